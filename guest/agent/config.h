/* The agent's settings, from aegis.* words on the kernel command line. */
#ifndef AEGIS_CONFIG_H
#define AEGIS_CONFIG_H

#define CONFIG_VALUE_BYTES 256

struct boot_config {
	char root_device[CONFIG_VALUE_BYTES];  /* aegis.root= */
	char layer_device[CONFIG_VALUE_BYTES]; /* aegis.layer=, or "tmpfs" */
	char ip_cidr[CONFIG_VALUE_BYTES];      /* aegis.ip= */
	char gateway[CONFIG_VALUE_BYTES];      /* aegis.gw= */
	char dns[CONFIG_VALUE_BYTES];          /* aegis.dns=, may be empty */
	int debug;                             /* aegis.debug=1 */
};

/* Fills in the defaults, then applies the words of cmdline. */
void config_parse(struct boot_config *config, const char *cmdline);

/* Reads /proc/cmdline into config; defaults stay when it is unreadable. */
void config_load(struct boot_config *config);

#endif
