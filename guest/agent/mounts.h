/*
 * Early boot: the kernel's pseudo file systems, optional driver modules,
 * and the copy-free root (a read-only image disk under a writable layer,
 * joined by overlayfs) that the agent switches into.
 */
#ifndef AEGIS_MOUNTS_H
#define AEGIS_MOUNTS_H

#include "config.h"

/* Mounts devtmpfs, proc and sysfs in the initramfs. */
int mounts_early(void);

/* Loads the modules listed in /lib/modules/aegis/order, if it exists. */
void mounts_load_modules(void);

/* Builds the overlay root, switches into it and finishes /dev and /sys.
 * Returns 0, or -1 after saying why on the console. */
int mounts_enter_root(const struct boot_config *config);

#endif
