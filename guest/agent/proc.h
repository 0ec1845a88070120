/*
 * The process table: the workload (stream 0) and the exec sessions
 * (streams from 1). It pumps their output to the host (LOG lines for the
 * workload, STDOUT/STDERR frames for sessions), feeds STDIN with WINDOW
 * credits, reaps children and sends EXIT once a process has exited and
 * its output has ended, so that output always precedes EXIT.
 */
#ifndef AEGIS_PROC_H
#define AEGIS_PROC_H

#include "agent.h"
#include "spawn.h"

#define PROC_SESSIONS_MAX 64
#define PROC_SLOTS (PROC_SESSIONS_MAX + 1)
/* docs/protocol.md, "Flow control". */
#define PROC_OUTPUT_PAUSE_BYTES (1u << 20)
#define PROC_STDIN_WINDOW_BYTES (256u << 10)
#define PROC_LOG_LINE_MAX_BYTES (16u << 10)
/* How long output may stay open after its process exited, while idle. */
#define PROC_LINGER_MS 2000

/* Registers a spawned process as stream; -1 if the table is full. */
int proc_add(uint32_t stream, const struct spawned *spawned, int tty);

/* 1 when the stream is open (EXIT not yet sent). */
int proc_stream_open(uint32_t stream);
int proc_session_count(void);
int proc_open_count(void);

void proc_add_pollfds(struct agent *agent, struct pollset *set);
void proc_on_output(struct agent *agent, int slot, int which, int fd);
void proc_on_input(struct agent *agent, int slot, int fd);

/* Reaps every exited child (orphans too) and updates children_left. */
void proc_reap(struct agent *agent);

/* Ends output that outlived its process; returns the next deadline. */
int64_t proc_tick(struct agent *agent, int64_t now_ms);

/* To the process group of the stream's process: it leads a session. */
void proc_signal(uint32_t stream, int signal_number);

void proc_stdin(struct agent *agent, uint32_t stream, const uint8_t *data,
		size_t length);
void proc_resize(uint32_t stream, unsigned short rows, unsigned short cols);

#endif
