/* Kernel command line parsing; see config.h. */
#include "config.h"

#include "diag.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CMDLINE_BYTES 4096

static void set_defaults(struct boot_config *config)
{
	memset(config, 0, sizeof(*config));
	snprintf(config->root_device, CONFIG_VALUE_BYTES, "/dev/vda");
	snprintf(config->layer_device, CONFIG_VALUE_BYTES, "/dev/vdb");
	snprintf(config->ip_cidr, CONFIG_VALUE_BYTES, "10.0.2.15/24");
	snprintf(config->gateway, CONFIG_VALUE_BYTES, "10.0.2.2");
}

static void copy_value(char *dest, const char *value, size_t length)
{
	if (length >= CONFIG_VALUE_BYTES) {
		diag("kernel command line value too long, ignored: %.40s",
		     value);
		return;
	}
	memcpy(dest, value, length);
	dest[length] = '\0';
}

/* Applies one word such as "aegis.ip=10.0.2.15/24". */
static void apply_word(struct boot_config *config, const char *word,
		       size_t length)
{
	static const struct {
		const char *key;
		size_t offset;
	} keys[] = {
		{ "aegis.root=", offsetof(struct boot_config, root_device) },
		{ "aegis.layer=", offsetof(struct boot_config, layer_device) },
		{ "aegis.ip=", offsetof(struct boot_config, ip_cidr) },
		{ "aegis.gw=", offsetof(struct boot_config, gateway) },
		{ "aegis.dns=", offsetof(struct boot_config, dns) },
	};
	size_t i;

	if (length == 13 && memcmp(word, "aegis.debug=1", 13) == 0) {
		config->debug = 1;
		return;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t key_length = strlen(keys[i].key);

		if (length < key_length ||
		    memcmp(word, keys[i].key, key_length) != 0)
			continue;
		copy_value((char *)config + keys[i].offset, word + key_length,
			   length - key_length);
		return;
	}
}

void config_parse(struct boot_config *config, const char *cmdline)
{
	const char *p = cmdline;

	set_defaults(config);
	while (*p != '\0') {
		size_t length;

		p += strspn(p, " \t\n");
		length = strcspn(p, " \t\n");
		if (length > 0)
			apply_word(config, p, length);
		p += length;
	}
}

void config_load(struct boot_config *config)
{
	char cmdline[CMDLINE_BYTES];
	ssize_t got;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		diag("open /proc/cmdline: %s", strerror(errno));
		config_parse(config, "");
		return;
	}
	do
		got = read(fd, cmdline, sizeof(cmdline) - 1);
	while (got < 0 && errno == EINTR);
	close(fd);

	cmdline[got > 0 ? got : 0] = '\0';
	config_parse(config, cmdline);
}
