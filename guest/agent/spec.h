/*
 * What START and EXEC ask to run (docs/protocol.md, "Payloads"): the
 * fields validated against their limits and copied into one allocation.
 */
#ifndef AEGIS_SPEC_H
#define AEGIS_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPAWN_GROUPS_MAX 64
#define SPAWN_LIST_MAX 4096
#define SPAWN_ITEM_MAX_BYTES (16u << 10)
#define SPAWN_CWD_MAX_BYTES 4096
#define SPAWN_HOSTNAME_MAX_BYTES 64
#define SPAWN_MESSAGE_BYTES 512

struct spawn_spec {
	char **argv;          /* NULL-terminated */
	char **envp;          /* NULL-terminated */
	const char *cwd;      /* "/" unless given */
	uid_t uid;
	gid_t gid;
	gid_t groups[SPAWN_GROUPS_MAX];
	size_t group_count;
	int tty;
	unsigned short rows;
	unsigned short cols;
	int with_stdin;
	const char *hostname; /* NULL unless given */
	char *storage;        /* one allocation for the strings and arrays */
};

/* What went wrong, for an ERROR frame. */
struct spawn_error {
	int code; /* an errno value */
	char message[SPAWN_MESSAGE_BYTES];
};

/* Fills err in and returns -1, so callers can return its result. */
int spawn_error_set(struct spawn_error *err, int code, const char *format,
		    ...) __attribute__((format(printf, 3, 4)));

/* Parses START or EXEC fields; 0, or -1 with err filled in. */
int spawn_spec_parse(struct spawn_spec *spec, const uint8_t *payload,
		     size_t length, struct spawn_error *err);
void spawn_spec_free(struct spawn_spec *spec);

#endif
