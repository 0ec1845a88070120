/* Early mounts, modules and the switch into the overlay root. */
#define _GNU_SOURCE
#include "mounts.h"

#include "diag.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MODULE_DIR "/lib/modules/aegis"
#define MODULE_ORDER_MAX_BYTES (64u << 10)
#define DEVICE_WAIT_MS 5000
#define DEVICE_POLL_MS 10

#define LOWER_DIR "/aegis/lower"
#define LAYER_DIR "/aegis/layer"
#define ROOT_DIR "/aegis/root"
#define AGENT_RUN_DIR "/run/aegis"

static int mount_fs(const char *source, const char *target, const char *type,
		    unsigned long flags, const char *options)
{
	if (mount(source, target, type, flags, options) == 0)
		return 0;
	diag("mount %s on %s (%s): %s", source, target,
	     type ? type : "move", strerror(errno));
	return -1;
}

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	diag("mkdir %s: %s", path, strerror(errno));
	return -1;
}

int mounts_early(void)
{
	const unsigned long quiet = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	make_dir("/dev", 0755);
	make_dir("/proc", 0555);
	make_dir("/sys", 0555);
	/* EBUSY: the kernel mounted it already (CONFIG_DEVTMPFS_MOUNT). */
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 &&
	    errno != EBUSY) {
		diag("mount devtmpfs on /dev: %s", strerror(errno));
		return -1;
	}
	if (mount_fs("proc", "/proc", "proc", quiet, NULL) < 0)
		return -1;
	return mount_fs("sysfs", "/sys", "sysfs", quiet, NULL);
}

static void load_module(const char *name)
{
	char path[512];
	int fd;

	if (strstr(name, "..") != NULL ||
	    snprintf(path, sizeof(path), MODULE_DIR "/%s", name) >=
		    (int)sizeof(path)) {
		diag("module name refused: %.80s", name);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		diag("open %s: %s", path, strerror(errno));
		return;
	}
	if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
		diag("load module %s: %s", path, strerror(errno));
	else
		debug("loaded module %s", name);
	close(fd);
}

/* Reads a small file whole into buf as a string; -1 if it is absent. */
static int read_small_file(const char *path, char *buf, size_t size)
{
	size_t length = 0;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (length < size - 1) {
		got = read(fd, buf + length, size - 1 - length);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		length += (size_t)got;
	}
	close(fd);
	buf[length] = '\0';
	return 0;
}

void mounts_load_modules(void)
{
	static char order[MODULE_ORDER_MAX_BYTES];
	char *line;
	char *rest;

	if (read_small_file(MODULE_DIR "/order", order, sizeof(order)) < 0)
		return;
	for (line = strtok_r(order, "\n", &rest); line != NULL;
	     line = strtok_r(NULL, "\n", &rest)) {
		line[strcspn(line, " \t\r#")] = '\0';
		if (line[0] != '\0')
			load_module(line);
	}
}

static void sleep_ms(long ms)
{
	struct timespec pause = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
		;
}

/* Drivers probe asynchronously, so a disk's node may appear late. */
static int wait_for_block_device(const char *path)
{
	int64_t deadline_ms = clock_mono_ms() + DEVICE_WAIT_MS;
	struct stat info;

	for (;;) {
		if (stat(path, &info) == 0 && S_ISBLK(info.st_mode))
			return 0;
		if (clock_mono_ms() >= deadline_ms)
			break;
		sleep_ms(DEVICE_POLL_MS);
	}
	diag("block device %s did not appear within %d ms", path,
	     DEVICE_WAIT_MS);
	return -1;
}

/* The image disk is shared between VMs: always read-only. */
static int mount_image(const char *device)
{
	if (wait_for_block_device(device) < 0 || make_dir(LOWER_DIR, 0755))
		return -1;
	if (mount(device, LOWER_DIR, "ext4", MS_RDONLY, NULL) == 0)
		return 0;

	/* A journal left dirty cannot be replayed on a read-only disk. */
	debug("mount %s read-only: %s; retrying with noload", device,
	      strerror(errno));
	return mount_fs(device, LOWER_DIR, "ext4", MS_RDONLY, "noload");
}

static int mount_layer(const char *device)
{
	if (make_dir(LAYER_DIR, 0755) < 0)
		return -1;
	if (strcmp(device, "tmpfs") == 0) {
		if (mount_fs("tmpfs", LAYER_DIR, "tmpfs", 0, "mode=0755") < 0)
			return -1;
	} else if (wait_for_block_device(device) < 0 ||
		   mount_fs(device, LAYER_DIR, "ext4", 0, NULL) < 0) {
		return -1;
	}
	if (make_dir(LAYER_DIR "/upper", 0755) < 0)
		return -1;
	return make_dir(LAYER_DIR "/work", 0755);
}

static int mount_overlay(void)
{
	const char *options = "lowerdir=" LOWER_DIR ",upperdir=" LAYER_DIR
			      "/upper,workdir=" LAYER_DIR "/work";

	if (make_dir(ROOT_DIR, 0755) < 0)
		return -1;
	return mount_fs("overlay", ROOT_DIR, "overlay", 0, options);
}

static int prepare_root_dirs(void)
{
	static const char *const dirs[] = { "dev", "proc", "sys", "tmp" };
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), ROOT_DIR "/%s", dirs[i]);
		if (make_dir(path, 0755) < 0)
			return -1;
	}
	/* mkdir applies the umask; /tmp must be world-writable and sticky. */
	chmod(ROOT_DIR "/tmp", 01777);
	return 0;
}

static int move_pseudo_filesystems(void)
{
	if (mount_fs("/dev", ROOT_DIR "/dev", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (mount_fs("/proc", ROOT_DIR "/proc", NULL, MS_MOVE, NULL) < 0)
		return -1;
	return mount_fs("/sys", ROOT_DIR "/sys", NULL, MS_MOVE, NULL);
}

static int switch_root(void)
{
	if (chdir(ROOT_DIR) < 0) {
		diag("chdir %s: %s", ROOT_DIR, strerror(errno));
		return -1;
	}
	if (mount_fs(".", "/", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (chroot(".") < 0 || chdir("/") < 0) {
		diag("chroot %s: %s", ROOT_DIR, strerror(errno));
		return -1;
	}
	return 0;
}

/* Links that devtmpfs lacks and shells expect (process substitution). */
static void link_dev_fds(void)
{
	symlink("/proc/self/fd", "/dev/fd");
	symlink("/proc/self/fd/0", "/dev/stdin");
	symlink("/proc/self/fd/1", "/dev/stdout");
	symlink("/proc/self/fd/2", "/dev/stderr");
}

/* Mounts inside the new root; failures here degrade, never stop boot. */
static void finish_pseudo_filesystems(void)
{
	const unsigned long quiet = MS_NOSUID | MS_NOEXEC;

	make_dir("/dev/pts", 0755);
	mount_fs("devpts", "/dev/pts", "devpts", quiet,
		 "newinstance,ptmxmode=0666,mode=0620,gid=5");
	if (access("/dev/ptmx", F_OK) < 0)
		symlink("pts/ptmx", "/dev/ptmx");
	make_dir("/dev/shm", 01777);
	mount_fs("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		 "mode=1777");
	link_dev_fds();
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		debug("mount cgroup2: %s", strerror(errno));
}

/*
 * The agent's own tmpfs at /run/aegis, for keepalive leases
 * (docs/keepalive.md): empty at every boot, and never written to the
 * layer. /run itself stays the image's, since images ship directories
 * there (a daemon's socket directory, owned by its user).
 */
static void mount_agent_run(void)
{
	const unsigned long quiet = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (make_dir("/run", 0755) < 0 || make_dir(AGENT_RUN_DIR, 0755) < 0)
		return;
	mount_fs("tmpfs", AGENT_RUN_DIR, "tmpfs", quiet,
		 "mode=0755,size=2m,nr_inodes=1024");
}

int mounts_enter_root(const struct boot_config *config)
{
	if (make_dir("/aegis", 0755) < 0)
		return -1;
	if (mount_image(config->root_device) < 0)
		return -1;
	if (mount_layer(config->layer_device) < 0)
		return -1;
	if (mount_overlay() < 0 || prepare_root_dirs() < 0)
		return -1;
	if (move_pseudo_filesystems() < 0 || switch_root() < 0)
		return -1;

	finish_pseudo_filesystems();
	mount_agent_run();
	return 0;
}
