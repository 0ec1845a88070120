/*
 * Keepalive leases (docs/keepalive.md): a workload keeps its VM awake by
 * writing a number of seconds into a file of LEASE_DIR. The agent watches
 * the directory with inotify, keeps the deadline of each file on its own
 * CLOCK_MONOTONIC and tells the host the longest remaining hold in a
 * LEASE frame whenever it changes: on a new, renewed or released lease,
 * never periodically, since the host counts a hold down by itself.
 */
#ifndef AEGIS_LEASE_H
#define AEGIS_LEASE_H

#include "channel.h"

#include <stdint.h>

#define LEASE_DIR "/run/aegis/leases"
#define LEASE_FILES_MAX 256
#define LEASE_CONTENT_MAX_BYTES 32
#define LEASE_SECONDS_MAX 86400
/* At most one LEASE frame per interval; changes within it coalesce. */
#define LEASE_SEND_INTERVAL_MS 100

/* Creates LEASE_DIR and watches it; without it, leases are off. */
void lease_open(int64_t now_ms);

/* The inotify descriptor to poll, or -1 while leases are off. */
int lease_fd(void);

/* Reads the directory's events and updates the deadlines. */
void lease_on_events(int64_t now_ms);

/*
 * Queues LEASE when the hold changed and the host said HELLO_REQ.
 * Returns when to be called again (INT64_MAX: on the next event).
 */
int64_t lease_tick(struct channel *ch, int64_t now_ms);

/* The hold for a HELLO, which then counts as reported. */
int64_t lease_hello_hold_ms(int64_t now_ms);

#endif
