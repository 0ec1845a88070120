/* The guest network, set up with ioctls so the image needs no tools. */
#ifndef AEGIS_NET_H
#define AEGIS_NET_H

/* Brings up lo, and eth0 with ip_cidr and a default route via gateway.
 * A missing eth0 is not an error: the VM may have no network. */
void net_setup(const char *ip_cidr, const char *gateway);

/* Writes /etc/resolv.conf from a comma-separated list of servers. */
void net_write_resolv_conf(const char *servers);

#endif
