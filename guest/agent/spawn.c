/* Process creation; see spawn.h. */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
		     "/sbin:/bin"

/* Reports a failed system call with the errno it left. */
static int fail_errno(struct spawn_error *err, const char *what)
{
	return spawn_error_set(err, errno, "%s: %s", what, strerror(errno));
}

/* Where the child fails, told to the parent through the report pipe. */
enum child_stage {
	STAGE_SETSID,
	STAGE_TTY,
	STAGE_GROUPS,
	STAGE_GID,
	STAGE_UID,
	STAGE_CWD,
	STAGE_EXEC,
};

struct child_report {
	int stage;
	int code;
};

/* The fds the child gets as 0, 1, 2 and the parent's ends. */
struct plumbing {
	int child[3];
	int parent[3];
	int extra; /* the pty slave or /dev/null, closed with the rest */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_child_ends(struct plumbing *p)
{
	int i;

	for (i = 0; i < 3; i++)
		close_fd(&p->child[i]);
	close_fd(&p->extra);
}

static void close_plumbing(struct plumbing *p)
{
	int i;

	close_child_ends(p);
	for (i = 0; i < 3; i++)
		close_fd(&p->parent[i]);
}

static int open_pty(const struct spawn_spec *spec, struct plumbing *p,
		    struct spawn_error *err)
{
	struct winsize size = { .ws_row = spec->rows, .ws_col = spec->cols };
	unsigned int number;
	int unlock = 0;
	char name[32];
	int master;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return fail_errno(err, "open /dev/ptmx");
	p->parent[0] = master;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
	    ioctl(master, TIOCGPTN, &number) < 0)
		return fail_errno(err, "unlock the pty");

	snprintf(name, sizeof(name), "/dev/pts/%u", number);
	p->extra = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->extra < 0)
		return fail_errno(err, "open the pty");
	ioctl(p->extra, TIOCSWINSZ, &size);

	p->parent[1] = fcntl(master, F_DUPFD_CLOEXEC, 3);
	if (p->parent[1] < 0)
		return fail_errno(err, "dup the pty");
	return 0;
}

static int open_pipe(int *read_end, int *write_end, struct spawn_error *err)
{
	int ends[2];

	if (pipe2(ends, O_CLOEXEC) < 0)
		return fail_errno(err, "pipe");
	*read_end = ends[0];
	*write_end = ends[1];
	return 0;
}

static int open_pipes(const struct spawn_spec *spec, struct plumbing *p,
		      struct spawn_error *err)
{
	if (spec->with_stdin) {
		if (open_pipe(&p->child[0], &p->parent[0], err) < 0)
			return -1;
	} else {
		p->child[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (p->child[0] < 0)
			return fail_errno(err, "open /dev/null");
	}
	if (open_pipe(&p->parent[1], &p->child[1], err) < 0)
		return -1;
	return open_pipe(&p->parent[2], &p->child[2], err);
}

static const char *env_value(char *const *envp, const char *name)
{
	size_t length = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, length) == 0 &&
		    (*envp)[length] == '=')
			return *envp + length + 1;
	return NULL;
}

/* execvpe() with PATH from the program's own environment; sets errno. */
static void exec_program(const struct spawn_spec *spec)
{
	const char *file = spec->argv[0];
	const char *path = env_value(spec->envp, "PATH");
	char full[4096];
	int saw_eacces = 0;

	if (file[0] == '\0' || strchr(file, '/') != NULL) {
		execve(file, spec->argv, spec->envp);
		return;
	}
	for (path = path ? path : DEFAULT_PATH;; path++) {
		size_t length = strcspn(path, ":");

		if (snprintf(full, sizeof(full), "%.*s%s%s", (int)length, path,
			     length ? "/" : "", file) < (int)sizeof(full)) {
			execve(full, spec->argv, spec->envp);
			if (errno == EACCES)
				saw_eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				return;
		}
		path += length;
		if (*path == '\0')
			break;
	}
	errno = saw_eacces ? EACCES : ENOENT;
}

static _Noreturn void child_fail(int report_fd, enum child_stage stage)
{
	struct child_report report = { stage, errno };
	ssize_t ignored = write(report_fd, &report, sizeof(report));

	(void)ignored;
	_exit(127);
}

static _Noreturn void run_child(const struct spawn_spec *spec,
				const struct plumbing *p, int report_fd)
{
	int tty = spec->tty;
	sigset_t none;
	int i;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (setsid() < 0)
		child_fail(report_fd, STAGE_SETSID);
	if (tty && ioctl(p->extra, TIOCSCTTY, 0) < 0)
		child_fail(report_fd, STAGE_TTY);
	for (i = 0; i < 3; i++)
		dup2(tty ? p->extra : p->child[i], i);

	if (setgroups(spec->group_count, spec->groups) < 0)
		child_fail(report_fd, STAGE_GROUPS);
	if (setgid(spec->gid) < 0)
		child_fail(report_fd, STAGE_GID);
	if (setuid(spec->uid) < 0)
		child_fail(report_fd, STAGE_UID);
	if (chdir(spec->cwd) < 0)
		child_fail(report_fd, STAGE_CWD);
	exec_program(spec);
	child_fail(report_fd, STAGE_EXEC);
}

static void describe_failure(const struct spawn_spec *spec,
			     const struct child_report *report,
			     struct spawn_error *err)
{
	const char *why = strerror(report->code);
	int code = report->code;

	switch (report->stage) {
	case STAGE_EXEC:
		spawn_error_set(err, code, "execve %s: %s", spec->argv[0], why);
		break;
	case STAGE_CWD:
		spawn_error_set(err, code, "chdir %s: %s", spec->cwd, why);
		break;
	case STAGE_UID:
		spawn_error_set(err, code, "setuid %u: %s", spec->uid, why);
		break;
	case STAGE_GID:
		spawn_error_set(err, code, "setgid %u: %s", spec->gid, why);
		break;
	case STAGE_GROUPS:
		spawn_error_set(err, code, "setgroups: %s", why);
		break;
	default:
		spawn_error_set(err, code, "set up the session: %s", why);
	}
}

/* Blocks until the child has exec'd (EOF) or reported a failure. */
static int await_exec(pid_t pid, int report_fd,
		      const struct spawn_spec *spec, struct spawn_error *err)
{
	struct child_report report;
	ssize_t got;

	do
		got = read(report_fd, &report, sizeof(report));
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return 0;

	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(report))
		return spawn_error_set(err, EIO, "lost the exec report");
	describe_failure(spec, &report, err);
	return -1;
}

static int fork_and_exec(const struct spawn_spec *spec, struct plumbing *p,
			 pid_t *pid, struct spawn_error *err)
{
	int report[2];
	int result;

	if (pipe2(report, O_CLOEXEC) < 0)
		return fail_errno(err, "pipe");
	*pid = fork();
	if (*pid == 0)
		run_child(spec, p, report[1]);
	close(report[1]);
	if (*pid < 0)
		result = fail_errno(err, "fork");
	else
		result = await_exec(*pid, report[0], spec, err);
	close(report[0]);
	return result;
}

int spawn_process(const struct spawn_spec *spec, struct spawned *out,
		  struct spawn_error *err)
{
	struct plumbing p = { { -1, -1, -1 }, { -1, -1, -1 }, -1 };
	int status;
	int i;

	if (spec->tty)
		status = open_pty(spec, &p, err);
	else
		status = open_pipes(spec, &p, err);
	if (status == 0)
		status = fork_and_exec(spec, &p, &out->pid, err);
	close_child_ends(&p);
	if (status < 0) {
		close_plumbing(&p);
		return -1;
	}

	for (i = 0; i < 3; i++)
		if (p.parent[i] >= 0)
			fcntl(p.parent[i], F_SETFL, O_NONBLOCK);
	out->stdin_fd = p.parent[0];
	out->stdout_fd = p.parent[1];
	out->stderr_fd = p.parent[2];
	return 0;
}
