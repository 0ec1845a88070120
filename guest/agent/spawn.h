/*
 * Starting a program for START or EXEC: a child in its own session with
 * pipes or a pseudo-terminal, the requested credentials and directory.
 * A failed execve reaches the parent through a close-on-exec pipe, so the
 * host gets ERROR, not STARTED.
 */
#ifndef AEGIS_SPAWN_H
#define AEGIS_SPAWN_H

#include "spec.h"

#include <sys/types.h>

struct spawned {
	pid_t pid;
	int stdin_fd;  /* pipe or pty master; -1 without input */
	int stdout_fd; /* pipe or pty master */
	int stderr_fd; /* -1 with a tty, which merges the two */
};

/* Forks and executes; the parent's fds come back non-blocking. */
int spawn_process(const struct spawn_spec *spec, struct spawned *out,
		  struct spawn_error *err);

#endif
