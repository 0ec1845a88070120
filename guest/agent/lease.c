/* Keepalive leases; see lease.h. */
#define _GNU_SOURCE
#include "lease.h"

#include "diag.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEASE_PARENT_DIR "/run/aegis"
#define WATCH_FLAGS                                                        \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |            \
	 IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |      \
	 IN_DONT_FOLLOW)
/* Events that mean the watched directory itself is gone or elsewhere. */
#define SELF_GONE (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)
#define BLANKS " \t\r\n"
#define EVENT_BUFFER_BYTES 4096
/* Reads of the event queue per wakeup, so that the loop stays fair. */
#define EVENT_READS_MAX 16
/* Directory entries one rescan looks at, leases or not. */
#define SCAN_ENTRIES_MAX 4096
/* A workload can spoil files in a loop: the console hears only a few. */
#define WARNINGS_MAX 32
#define SHOWN_NAME_BYTES 64

enum rescan_kind {
	RESCAN_NONE,
	RESCAN_NEW, /* read files not in the table yet */
	RESCAN_ALL, /* events were lost: read every file again */
};

enum read_result {
	READ_OK,
	READ_GONE,
	READ_BAD,
};

struct lease {
	int in_use;
	int seen;           /* found by the rescan in progress */
	int warned;         /* its bad content was reported already */
	int64_t expires_ms; /* 0 while the file holds no valid lease */
	char name[NAME_MAX + 1];
};

static struct lease table[LEASE_FILES_MAX];
static int inotify_fd = -1;
static int watch_wd = -1;
/* Open only while events are read: an open directory delays its
 * IN_DELETE_SELF until the last reference goes. */
static int dir_fd = -1;
static int changed; /* the table changed since the last report */
static int left_out; /* a file did not fit: look again when one goes */
static int full_reported;
static int warnings;
static enum rescan_kind rescan_wanted;
static int rewatch_wanted;
static int64_t reported_ms; /* the deadline the host knows; 0: none */
static int64_t next_send_ms;

/* Console lines show names in printable ASCII only. */
static void show_name(const char *name, char *out, size_t size)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < size; i++)
		out[i] = name[i] >= ' ' && name[i] < 0x7f ? name[i] : '?';
	out[i] = '\0';
}

static void warn(struct lease *l, const char *why)
{
	char shown[SHOWN_NAME_BYTES];

	if (l->warned || warnings > WARNINGS_MAX)
		return;
	l->warned = 1;
	if (++warnings > WARNINGS_MAX) {
		diag("more bad lease files; no longer reporting them");
		return;
	}
	show_name(l->name, shown, sizeof(shown));
	diag("lease %s ignored: %s", shown, why);
}

static struct lease *find(const char *name)
{
	int i;

	for (i = 0; i < LEASE_FILES_MAX; i++)
		if (table[i].in_use && strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

static struct lease *add(const char *name)
{
	int i;

	for (i = 0; i < LEASE_FILES_MAX; i++) {
		if (table[i].in_use)
			continue;
		memset(&table[i], 0, sizeof(table[i]));
		table[i].in_use = 1;
		strncpy(table[i].name, name, NAME_MAX);
		return &table[i];
	}
	if (!full_reported)
		diag("more than %d lease files; ignoring the others",
		     LEASE_FILES_MAX);
	full_reported = left_out = 1;
	return NULL;
}

static void drop(struct lease *l)
{
	memset(l, 0, sizeof(*l));
	changed = 1;
	if (left_out && rescan_wanted == RESCAN_NONE)
		rescan_wanted = RESCAN_NEW;
}

/* Seconds in text: digits with optional blanks around; -1 if not. */
static int64_t parse_seconds(const char *text, const char **why)
{
	const char *p = text + strspn(text, BLANKS);
	int64_t seconds = 0;

	if (*p == '\0')
		return 0; /* an empty file holds nothing, like "0" */
	*why = "not a decimal number of seconds";
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		seconds = seconds * 10 + (*p - '0');
		if (seconds > LEASE_SECONDS_MAX) {
			*why = "more than 86400 seconds";
			return -1;
		}
	}
	return p[strspn(p, BLANKS)] == '\0' ? seconds : -1;
}

/* Reads the first bytes of a file that may be anything a user made. */
static const char *read_regular(int fd, char *text)
{
	struct stat info;
	ssize_t got;

	if (fstat(fd, &info) < 0 || !S_ISREG(info.st_mode))
		return "not a regular file";
	if (info.st_size > LEASE_CONTENT_MAX_BYTES)
		return "longer than 32 bytes";
	do
		got = read(fd, text, LEASE_CONTENT_MAX_BYTES);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return strerror(errno);
	if (memchr(text, '\0', (size_t)got) != NULL)
		return "not text";
	text[got] = '\0';
	return NULL;
}

/* text has room for LEASE_CONTENT_MAX_BYTES and a NUL. */
static enum read_result read_content(const char *name, char *text,
				     const char **why)
{
	int fd;
	int open_errno;

	if (dir_fd < 0)
		return READ_GONE; /* with the directory, an event follows */
	/* O_NONBLOCK: opening a FIFO must not stall PID 1. */
	fd = openat(dir_fd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	open_errno = errno;
	if (fd < 0) {
		*why = open_errno == ELOOP ? "a symbolic link"
					   : strerror(open_errno);
		return open_errno == ENOENT ? READ_GONE : READ_BAD;
	}
	*why = read_regular(fd, text);
	close(fd);
	return *why == NULL ? READ_OK : READ_BAD;
}

/* The deadline counts from now: the agent reads a file as it is written. */
static void read_lease(struct lease *l, int64_t now_ms)
{
	char text[LEASE_CONTENT_MAX_BYTES + 1];
	const char *why = NULL;
	enum read_result result = read_content(l->name, text, &why);
	int64_t seconds = -1;

	changed = 1;
	l->expires_ms = 0;
	if (result == READ_GONE) {
		drop(l);
		return;
	}
	if (result == READ_OK)
		seconds = parse_seconds(text, &why);
	if (seconds < 0)
		warn(l, why);
	else if (seconds > 0)
		l->expires_ms = now_ms + seconds * 1000;
}

static void scan_entry(const struct dirent *entry, int64_t now_ms,
		       int reread_all)
{
	struct lease *l;

	if (entry->d_type == DT_DIR || strcmp(entry->d_name, ".") == 0 ||
	    strcmp(entry->d_name, "..") == 0)
		return;
	l = find(entry->d_name);
	if (l != NULL && !reread_all) {
		l->seen = 1;
		return;
	}
	if (l == NULL)
		l = add(entry->d_name);
	if (l == NULL)
		return;
	l->seen = 1;
	read_lease(l, now_ms);
}

/* Brings the table in line with the directory, at most 256 files. */
static void rescan(int64_t now_ms, int reread_all)
{
	struct dirent *entry;
	DIR *dir = NULL;
	int entries;
	int fd;
	int i;

	if (dir_fd < 0)
		return; /* it went away: its IN_DELETE_SELF follows */
	/* A descriptor of its own, so that readdir starts at the top. */
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		dir = fdopendir(fd);
	if (dir == NULL) {
		diag("read %s: %s", LEASE_DIR, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	for (i = 0; i < LEASE_FILES_MAX; i++)
		table[i].seen = 0;
	left_out = 0;
	for (entries = 0; entries < SCAN_ENTRIES_MAX; entries++) {
		entry = readdir(dir);
		if (entry == NULL)
			break;
		scan_entry(entry, now_ms, reread_all);
	}
	closedir(dir);
	for (i = 0; i < LEASE_FILES_MAX; i++)
		if (table[i].in_use && !table[i].seen)
			drop(&table[i]);
	changed = 1;
}

/* mkdir applies the umask, and any user may hold a lease. */
static int make_lease_dir(void)
{
	if (mkdir(LEASE_PARENT_DIR, 0755) < 0 && errno != EEXIST)
		return -1;
	if (mkdir(LEASE_DIR, 01777) < 0 && errno != EEXIST)
		return -1;
	return chmod(LEASE_DIR, 01777);
}

static void open_dir(void)
{
	dir_fd = open(LEASE_DIR,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void close_dir(void)
{
	if (dir_fd >= 0)
		close(dir_fd);
	dir_fd = -1;
}

/* Watches before reading, so that no write falls in between. */
static int watch_dir(int64_t now_ms)
{
	if (make_lease_dir() < 0) {
		diag("create %s: %s", LEASE_DIR, strerror(errno));
		return -1;
	}
	watch_wd = inotify_add_watch(inotify_fd, LEASE_DIR, WATCH_FLAGS);
	if (watch_wd < 0) {
		diag("watch %s: %s", LEASE_DIR, strerror(errno));
		return -1;
	}
	open_dir();
	rescan(now_ms, 1);
	close_dir();
	return 0;
}

/* The directory was removed, moved or unmounted: start over afresh. */
static void rewatch(int64_t now_ms)
{
	int i;

	inotify_rm_watch(inotify_fd, watch_wd); /* EINVAL once it is gone */
	watch_wd = -1;
	close_dir();
	for (i = 0; i < LEASE_FILES_MAX; i++)
		if (table[i].in_use)
			drop(&table[i]);
	if (watch_dir(now_ms) < 0)
		diag("keepalive leases are off");
}

static int event_name_ok(const struct inotify_event *e)
{
	return e->len > 0 && memchr(e->name, '\0', e->len) != NULL &&
	       strlen(e->name) <= NAME_MAX;
}

static void on_event(const struct inotify_event *e, int64_t now_ms)
{
	struct lease *l;

	if (e->mask & IN_Q_OVERFLOW) {
		rescan_wanted = RESCAN_ALL;
		return;
	}
	if (e->wd != watch_wd)
		return; /* the IN_IGNORED of a watch replaced already */
	if (e->mask & SELF_GONE) {
		rewatch_wanted = 1;
		return;
	}
	if ((e->mask & IN_ISDIR) || !event_name_ok(e))
		return;

	l = find(e->name);
	if (e->mask & (IN_DELETE | IN_MOVED_FROM)) {
		if (l != NULL)
			drop(l);
		return;
	}
	if (l == NULL)
		l = add(e->name);
	if (l != NULL)
		read_lease(l, now_ms);
}

/* The kernel writes whole events, each padded to keep the next aligned. */
static void on_event_buffer(const uint8_t *buffer, size_t length,
			    int64_t now_ms)
{
	const struct inotify_event *e;
	size_t at = 0;

	while (length - at >= sizeof(*e)) {
		e = (const struct inotify_event *)(buffer + at);
		if (e->len > length - at - sizeof(*e))
			return;
		on_event(e, now_ms);
		at += sizeof(*e) + e->len;
	}
}

void lease_on_events(int64_t now_ms)
{
	static uint8_t buffer[EVENT_BUFFER_BYTES]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t got;
	int reads;

	open_dir();
	for (reads = 0; reads < EVENT_READS_MAX; reads++) {
		got = read(inotify_fd, buffer, sizeof(buffer));
		if (got <= 0)
			break;
		on_event_buffer(buffer, (size_t)got, now_ms);
	}
	if (rewatch_wanted)
		rewatch(now_ms);
	else if (rescan_wanted != RESCAN_NONE)
		rescan(now_ms, rescan_wanted == RESCAN_ALL);
	rewatch_wanted = 0;
	rescan_wanted = RESCAN_NONE;
	close_dir();
}

void lease_open(int64_t now_ms)
{
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd < 0) {
		diag("inotify: %s; keepalive leases are off",
		     strerror(errno));
		return;
	}
	if (watch_dir(now_ms) < 0)
		diag("keepalive leases are off");
}

int lease_fd(void)
{
	return watch_wd >= 0 ? inotify_fd : -1;
}

/* The latest deadline of a valid lease, or 0 when none holds. */
static int64_t current_deadline_ms(int64_t now_ms)
{
	int64_t deadline_ms = 0;
	int i;

	for (i = 0; i < LEASE_FILES_MAX; i++)
		if (table[i].in_use && table[i].expires_ms > now_ms &&
		    table[i].expires_ms > deadline_ms)
			deadline_ms = table[i].expires_ms;
	return deadline_ms;
}

static void mark_reported(int64_t deadline_ms, int64_t now_ms)
{
	reported_ms = deadline_ms;
	next_send_ms = now_ms + LEASE_SEND_INTERVAL_MS;
	changed = 0;
}

static void send_lease(struct channel *ch, int64_t hold_ms)
{
	uint8_t payload[FIELD_HEADER_BYTES + 8];
	struct field_writer w;

	field_writer_init(&w, payload, sizeof(payload));
	field_put_int(&w, TAG_HOLD_MS, hold_ms);
	channel_send(ch, MSG_LEASE, 0, payload, w.length);
	debug("lease: hold %lld ms", (long long)hold_ms);
}

/*
 * A lease that runs out needs no frame: the host counts the same hold
 * down. Only a deadline that moved does, and until the host greets
 * the agent, the next HELLO carries the hold instead.
 */
int64_t lease_tick(struct channel *ch, int64_t now_ms)
{
	int64_t known_ms = reported_ms > now_ms ? reported_ms : 0;
	int64_t deadline_ms;

	if (!changed || !ch->greeted)
		return INT64_MAX;
	if (now_ms < next_send_ms)
		return next_send_ms;

	deadline_ms = current_deadline_ms(now_ms);
	if (deadline_ms == known_ms) {
		changed = 0;
		return INT64_MAX;
	}
	send_lease(ch, deadline_ms == 0 ? 0 : deadline_ms - now_ms);
	mark_reported(deadline_ms, now_ms);
	return INT64_MAX;
}

int64_t lease_hello_hold_ms(int64_t now_ms)
{
	int64_t deadline_ms = current_deadline_ms(now_ms);

	mark_reported(deadline_ms, now_ms);
	return deadline_ms == 0 ? 0 : deadline_ms - now_ms;
}
