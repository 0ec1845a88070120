/*
 * The agent's state as a whole, shared by the event loop (main.c), the
 * message handlers (handlers.c) and the process table (proc.c).
 */
#ifndef AEGIS_AGENT_H
#define AEGIS_AGENT_H

#include "channel.h"
#include "config.h"

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_VERSION "0.1.0"

/* The HELLO field "workload". */
enum workload_state {
	WORKLOAD_NOT_STARTED = 0,
	WORKLOAD_RUNNING = 1,
	WORKLOAD_EXITED = 2,
};

enum agent_phase {
	PHASE_RUN,   /* serving requests */
	PHASE_GRACE, /* SHUTDOWN: processes have grace_ms to exit */
	PHASE_FLUSH, /* last frames go out, then the VM powers off */
};

struct agent {
	struct boot_config config;
	struct channel channel;
	int signal_fd;
	int64_t boot_ns;
	int64_t root_ready_ns;
	enum workload_state workload;
	pid_t workload_pid;
	enum agent_phase phase;
	int64_t phase_deadline_ms;
	int flush_waits_for_streams;
	const char *stop_reason;
	int children_left;
};

/* What a poll set entry belongs to, to route its revents. */
enum poll_owner_kind {
	OWNER_PORT,
	OWNER_SIGNALS,
	OWNER_OUTPUT,
	OWNER_INPUT,
	OWNER_LEASES,
};

struct poll_owner {
	enum poll_owner_kind kind;
	int slot;  /* index in the process table */
	int which; /* output: 0 stdout, 1 stderr */
};

#define POLLSET_MAX 256

struct pollset {
	struct pollfd fds[POLLSET_MAX];
	struct poll_owner owners[POLLSET_MAX];
	int count;
};

void pollset_add(struct pollset *set, int fd, short events,
		 enum poll_owner_kind kind, int slot, int which);

/* Called by the process table when EXIT for stream 0 is queued. */
void agent_workload_exited(struct agent *agent);

/* SHUTDOWN: SIGTERM everything, then power off after grace_ms. */
void agent_begin_shutdown(struct agent *agent, int64_t grace_ms);

#endif
