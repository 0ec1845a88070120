/* Network setup through ioctls; see net.h. */
#include "net.h"

#include "diag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESOLV_CONF_BYTES 1024

static void set_ifname(struct ifreq *req, const char *name)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->ifr_name, IFNAMSIZ, "%s", name);
}

static void set_sockaddr(struct sockaddr *dest, struct in_addr address)
{
	struct sockaddr_in in;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr = address;
	memcpy(dest, &in, sizeof(in));
}

static int interface_up(int sock, const char *name)
{
	struct ifreq req;

	set_ifname(&req, name);
	if (ioctl(sock, SIOCGIFFLAGS, &req) < 0)
		return -1;
	req.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(sock, SIOCSIFFLAGS, &req);
}

static int interface_address(int sock, const char *name,
			     struct in_addr address, struct in_addr mask)
{
	struct ifreq req;

	set_ifname(&req, name);
	set_sockaddr(&req.ifr_addr, address);
	if (ioctl(sock, SIOCSIFADDR, &req) < 0)
		return -1;
	set_ifname(&req, name);
	set_sockaddr(&req.ifr_netmask, mask);
	return ioctl(sock, SIOCSIFNETMASK, &req);
}

static int default_route(int sock, struct in_addr gateway)
{
	struct rtentry route;
	struct in_addr any = { 0 };

	memset(&route, 0, sizeof(route));
	set_sockaddr(&route.rt_dst, any);
	set_sockaddr(&route.rt_genmask, any);
	set_sockaddr(&route.rt_gateway, gateway);
	route.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(sock, SIOCADDRT, &route) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Parses "a.b.c.d/n" (the prefix defaults to 24). */
static int parse_cidr(const char *cidr, struct in_addr *address,
		      struct in_addr *mask)
{
	char text[INET_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	size_t length = slash ? (size_t)(slash - cidr) : strlen(cidr);
	long prefix = 24;
	char *end;

	if (length >= sizeof(text))
		return -1;
	memcpy(text, cidr, length);
	text[length] = '\0';
	if (inet_pton(AF_INET, text, address) != 1)
		return -1;
	if (slash != NULL) {
		prefix = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || prefix < 0 ||
		    prefix > 32)
			return -1;
	}
	mask->s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
	return 0;
}

static void setup_eth0(int sock, const char *ip_cidr, const char *gateway)
{
	struct in_addr address, mask, via;

	if (parse_cidr(ip_cidr, &address, &mask) < 0) {
		diag("aegis.ip=%s is not an IPv4 address/prefix", ip_cidr);
		return;
	}
	if (interface_address(sock, "eth0", address, mask) < 0) {
		if (errno == ENODEV)
			debug("no eth0: running without a network");
		else
			diag("address eth0: %s", strerror(errno));
		return;
	}
	if (interface_up(sock, "eth0") < 0) {
		diag("bring up eth0: %s", strerror(errno));
		return;
	}
	if (gateway[0] == '\0')
		return;
	if (inet_pton(AF_INET, gateway, &via) != 1)
		diag("aegis.gw=%s is not an IPv4 address", gateway);
	else if (default_route(sock, via) < 0)
		diag("default route via %s: %s", gateway, strerror(errno));
}

void net_setup(const char *ip_cidr, const char *gateway)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sock < 0) {
		diag("socket: %s", strerror(errno));
		return;
	}
	if (interface_up(sock, "lo") < 0)
		diag("bring up lo: %s", strerror(errno));
	setup_eth0(sock, ip_cidr, gateway);
	close(sock);
}

/* Turns "a,b" into "nameserver a\nnameserver b\n"; -1 if too long. */
static int format_resolv_conf(const char *servers, char *out, size_t size)
{
	size_t used = 0;
	const char *p = servers;

	while (*p != '\0') {
		size_t length = strcspn(p, ",");
		int wrote;

		if (length > 0) {
			wrote = snprintf(out + used, size - used,
					 "nameserver %.*s\n", (int)length, p);
			if (wrote < 0 || (size_t)wrote >= size - used)
				return -1;
			used += (size_t)wrote;
		}
		p += length + (p[length] == ',');
	}
	return (int)used;
}

void net_write_resolv_conf(const char *servers)
{
	char text[RESOLV_CONF_BYTES];
	int length = format_resolv_conf(servers, text, sizeof(text));
	int fd;

	if (length < 0) {
		diag("aegis.dns list too long, /etc/resolv.conf not written");
		return;
	}
	mkdir("/etc", 0755);
	/* An image's resolv.conf may be a dangling symlink: replace it. */
	unlink("/etc/resolv.conf");
	fd = open("/etc/resolv.conf",
		  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, (size_t)length) != length)
		diag("write /etc/resolv.conf: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}
