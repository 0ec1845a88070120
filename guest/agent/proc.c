/* The process table; see proc.h. */
#include "proc.h"

#include "diag.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define LINGER_RECHECK_MS 100

/* STDIN bytes not yet written to the process. */
struct chunk {
	struct chunk *next;
	size_t length;
	size_t offset;
	uint8_t data[];
};

struct output {
	int fd;            /* -1 once its output has ended */
	uint8_t *line;     /* the workload's line being assembled */
	size_t line_bytes;
};

struct input {
	int fd;            /* -1 when closed or absent */
	struct chunk *first;
	struct chunk *last;
	size_t buffered_bytes;
	int end_requested; /* an empty STDIN arrived */
};

struct proc {
	int in_use;
	uint32_t stream;
	int tty;
	pid_t pid;
	int exited;
	int wait_status;
	int64_t exited_ms;
	struct output out[2]; /* stdout, stderr */
	struct input in;
};

static struct proc table[PROC_SLOTS];
/* Slot 0 is the workload's, which runs once per boot. */
static uint8_t workload_lines[2][PROC_LOG_LINE_MAX_BYTES];
static uint8_t read_buffer[FRAME_PAYLOAD_MAX];

static struct proc *find_stream(uint32_t stream)
{
	int i;

	for (i = 0; i < PROC_SLOTS; i++)
		if (table[i].in_use && table[i].stream == stream)
			return &table[i];
	return NULL;
}

static struct proc *find_pid(pid_t pid)
{
	int i;

	for (i = 0; i < PROC_SLOTS; i++)
		if (table[i].in_use && table[i].pid == pid)
			return &table[i];
	return NULL;
}

static struct proc *free_slot(uint32_t stream)
{
	int i;

	if (stream == 0)
		return table[0].in_use ? NULL : &table[0];
	for (i = 1; i < PROC_SLOTS; i++)
		if (!table[i].in_use)
			return &table[i];
	return NULL;
}

int proc_add(uint32_t stream, const struct spawned *spawned, int tty)
{
	struct proc *p = free_slot(stream);

	if (p == NULL)
		return -1;
	memset(p, 0, sizeof(*p));
	p->in_use = 1;
	p->stream = stream;
	p->tty = tty;
	p->pid = spawned->pid;
	p->out[0].fd = spawned->stdout_fd;
	p->out[1].fd = spawned->stderr_fd;
	p->in.fd = spawned->stdin_fd;
	if (stream == 0) {
		p->out[0].line = workload_lines[0];
		p->out[1].line = workload_lines[1];
	}
	return 0;
}

int proc_stream_open(uint32_t stream)
{
	return find_stream(stream) != NULL;
}

int proc_session_count(void)
{
	int count = 0;
	int i;

	for (i = 1; i < PROC_SLOTS; i++)
		count += table[i].in_use;
	return count;
}

int proc_open_count(void)
{
	return proc_session_count() + table[0].in_use;
}

static int output_paused(struct agent *agent)
{
	return channel_pending_bytes(&agent->channel) >=
	       PROC_OUTPUT_PAUSE_BYTES;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void free_chunks(struct input *in)
{
	while (in->first != NULL) {
		struct chunk *next = in->first->next;

		free(in->first);
		in->first = next;
	}
	in->last = NULL;
	in->buffered_bytes = 0;
}

static void release(struct proc *p)
{
	close_fd(&p->out[0].fd);
	close_fd(&p->out[1].fd);
	close_fd(&p->in.fd);
	free_chunks(&p->in);
	memset(p, 0, sizeof(*p));
}

static void send_exit(struct agent *agent, const struct proc *p)
{
	uint8_t payload[FIELD_HEADER_BYTES + 8];
	struct field_writer w;

	field_writer_init(&w, payload, sizeof(payload));
	if (WIFSIGNALED(p->wait_status))
		field_put_int(&w, TAG_SIGNAL, WTERMSIG(p->wait_status));
	else
		field_put_int(&w, TAG_EXIT_CODE, WEXITSTATUS(p->wait_status));
	channel_send(&agent->channel, MSG_EXIT, p->stream, payload, w.length);
}

/* EXIT goes out only after the process exited and its output ended. */
static void finish_if_done(struct agent *agent, struct proc *p)
{
	uint32_t stream = p->stream;

	if (!p->exited || p->out[0].fd >= 0 || p->out[1].fd >= 0)
		return;
	send_exit(agent, p);
	debug("stream %u: process %d ended", stream, (int)p->pid);
	release(p);
	if (stream == 0)
		agent_workload_exited(agent);
}

static void send_log(struct agent *agent, int which, uint8_t flags,
		     const uint8_t *line, size_t length)
{
	uint8_t prefix[2] = { (uint8_t)(which + 1), flags };
	struct iovec parts[2] = {
		{ prefix, sizeof(prefix) },
		{ (void *)line, length },
	};

	channel_send_parts(&agent->channel, MSG_LOG, 0, parts, 2);
}

/*
 * Splits workload output into LOG records. A line that outgrows the
 * buffer goes out in pieces flagged partial, so no line stalls the agent.
 * The piece is sent only once a byte other than the newline follows, so a
 * line of exactly the limit is one record.
 */
static void split_lines(struct agent *agent, struct output *o, int which,
			const uint8_t *p, size_t n)
{
	while (n > 0) {
		const uint8_t *newline;
		size_t take;

		if (o->line_bytes == PROC_LOG_LINE_MAX_BYTES && *p != '\n') {
			send_log(agent, which, LOG_FLAG_PARTIAL, o->line,
				 o->line_bytes);
			o->line_bytes = 0;
		}
		newline = memchr(p, '\n', n);
		take = newline ? (size_t)(newline - p) : n;
		if (take > PROC_LOG_LINE_MAX_BYTES - o->line_bytes)
			take = PROC_LOG_LINE_MAX_BYTES - o->line_bytes;
		memcpy(o->line + o->line_bytes, p, take);
		o->line_bytes += take;
		p += take;
		n -= take;
		if (n > 0 && *p == '\n') {
			send_log(agent, which, 0, o->line, o->line_bytes);
			o->line_bytes = 0;
			p++;
			n--;
		}
	}
}

static uint8_t output_type(int which)
{
	return which == 0 ? MSG_STDOUT : MSG_STDERR;
}

static void end_output(struct agent *agent, struct proc *p, int which)
{
	struct output *o = &p->out[which];

	close_fd(&o->fd);
	if (p->stream == 0) {
		if (o->line_bytes > 0)
			send_log(agent, which, 0, o->line, o->line_bytes);
		o->line_bytes = 0;
	} else {
		channel_send(&agent->channel, output_type(which), p->stream,
			     NULL, 0);
		/* A tty merges the two; both directions still end. */
		if (p->tty)
			channel_send(&agent->channel, MSG_STDERR, p->stream,
				     NULL, 0);
	}
	finish_if_done(agent, p);
}

/* Reads once; returns the read's result with errno as read left it. */
static ssize_t read_output(struct agent *agent, struct proc *p, int which)
{
	struct output *o = &p->out[which];
	ssize_t got;

	do
		got = read(o->fd, read_buffer, sizeof(read_buffer));
	while (got < 0 && errno == EINTR);

	if (got > 0 && p->stream == 0)
		split_lines(agent, o, which, read_buffer, (size_t)got);
	else if (got > 0)
		channel_send(&agent->channel, output_type(which), p->stream,
			     read_buffer, (size_t)got);
	else if (got == 0 || errno == EIO) /* EIO: a pty whose slave closed */
		end_output(agent, p, which);
	else if (errno != EAGAIN) {
		diag("read output of stream %u: %s", p->stream,
		     strerror(errno));
		end_output(agent, p, which);
	}
	return got;
}

void proc_on_output(struct agent *agent, int slot, int which, int fd)
{
	struct proc *p = &table[slot];

	/* Checked again per pipe: one loop turn may read many of them. */
	if (p->in_use && p->out[which].fd == fd && !output_paused(agent))
		read_output(agent, p, which);
}

static void return_credit(struct agent *agent, uint32_t stream,
			  size_t bytes)
{
	uint8_t payload[FIELD_HEADER_BYTES + 8];
	struct field_writer w;

	if (bytes == 0)
		return;
	field_writer_init(&w, payload, sizeof(payload));
	field_put_int(&w, TAG_BYTES, (int64_t)bytes);
	channel_send(&agent->channel, MSG_WINDOW, stream, payload, w.length);
}

/* The process will read no more: what waits is dropped and credited. */
static void drop_input(struct agent *agent, struct proc *p)
{
	return_credit(agent, p->stream, p->in.buffered_bytes);
	free_chunks(&p->in);
	close_fd(&p->in.fd);
}

/* End of input: close the pipe, or type the EOF character on a tty. */
static void finish_input(struct proc *p)
{
	struct termios modes;

	if (p->tty && tcgetattr(p->in.fd, &modes) == 0 &&
	    (modes.c_lflag & ICANON) &&
	    write(p->in.fd, &modes.c_cc[VEOF], 1) != 1)
		debug("stream %u: EOF character not written", p->stream);
	close_fd(&p->in.fd);
}

static void flush_input(struct agent *agent, struct proc *p)
{
	size_t written_bytes = 0;

	while (p->in.first != NULL) {
		struct chunk *c = p->in.first;
		ssize_t got = write(p->in.fd, c->data + c->offset,
				    c->length - c->offset);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			break;
		if (got < 0) {
			return_credit(agent, p->stream, written_bytes);
			drop_input(agent, p);
			return;
		}
		c->offset += (size_t)got;
		written_bytes += (size_t)got;
		p->in.buffered_bytes -= (size_t)got;
		if (c->offset == c->length) {
			p->in.first = c->next;
			free(c);
		}
	}
	if (p->in.first == NULL)
		p->in.last = NULL;
	return_credit(agent, p->stream, written_bytes);
	if (p->in.first == NULL && p->in.end_requested && p->in.fd >= 0)
		finish_input(p);
}

void proc_on_input(struct agent *agent, int slot, int fd)
{
	struct proc *p = &table[slot];

	if (p->in_use && p->in.fd == fd)
		flush_input(agent, p);
}

static void append_input(struct agent *agent, struct proc *p,
			 const uint8_t *data, size_t length)
{
	struct chunk *c;

	if (p->in.buffered_bytes + length > PROC_STDIN_WINDOW_BYTES) {
		channel_send_error(&agent->channel, p->stream, ENOBUFS,
				   "STDIN beyond the %u-byte window dropped",
				   PROC_STDIN_WINDOW_BYTES);
		return_credit(agent, p->stream, length);
		return;
	}
	c = malloc(sizeof(*c) + length);
	if (c == NULL) {
		channel_send_error(&agent->channel, p->stream, ENOMEM,
				   "no memory for STDIN; input dropped");
		return_credit(agent, p->stream, length);
		return;
	}
	c->next = NULL;
	c->length = length;
	c->offset = 0;
	memcpy(c->data, data, length);
	if (p->in.last != NULL)
		p->in.last->next = c;
	else
		p->in.first = c;
	p->in.last = c;
	p->in.buffered_bytes += length;
	flush_input(agent, p);
}

void proc_stdin(struct agent *agent, uint32_t stream, const uint8_t *data,
		size_t length)
{
	struct proc *p = find_stream(stream);

	/* STDIN may cross EXIT on the wire: a closed stream ignores it. */
	if (p == NULL) {
		debug("STDIN for stream %u, which is not open", stream);
		return;
	}
	if (length == 0) {
		p->in.end_requested = 1;
		if (p->in.first == NULL && p->in.fd >= 0)
			finish_input(p);
	} else if (p->in.fd < 0 || p->in.end_requested) {
		return_credit(agent, stream, length);
	} else {
		append_input(agent, p, data, length);
	}
}

void proc_resize(uint32_t stream, unsigned short rows, unsigned short cols)
{
	struct winsize size = { .ws_row = rows, .ws_col = cols };
	struct proc *p = find_stream(stream);

	if (p != NULL && p->tty && p->out[0].fd >= 0)
		ioctl(p->out[0].fd, TIOCSWINSZ, &size);
}

void proc_signal(uint32_t stream, int signal_number)
{
	struct proc *p = find_stream(stream);

	if (p == NULL)
		return;
	if (kill(-p->pid, signal_number) < 0 && errno == ESRCH && !p->exited)
		kill(p->pid, signal_number);
}

void proc_add_pollfds(struct agent *agent, struct pollset *set)
{
	int paused = output_paused(agent);
	int i, which;

	for (i = 0; i < PROC_SLOTS; i++) {
		struct proc *p = &table[i];

		if (!p->in_use)
			continue;
		for (which = 0; which < 2 && !paused; which++)
			if (p->out[which].fd >= 0)
				pollset_add(set, p->out[which].fd, POLLIN,
					    OWNER_OUTPUT, i, which);
		if (p->in.fd >= 0 && p->in.first != NULL)
			pollset_add(set, p->in.fd, POLLOUT, OWNER_INPUT, i, 0);
	}
}

static void on_child_exit(struct agent *agent, pid_t pid, int status)
{
	struct proc *p = find_pid(pid);

	if (p == NULL || p->exited)
		return; /* an orphan that PID 1 inherited */
	p->exited = 1;
	p->wait_status = status;
	p->exited_ms = clock_mono_ms();
	finish_if_done(agent, p);
}

void proc_reap(struct agent *agent)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			on_child_exit(agent, pid, status);
		} else if (pid == 0) {
			agent->children_left = 1;
			return;
		} else if (errno != EINTR) {
			agent->children_left = 0; /* ECHILD */
			return;
		}
	}
}

/*
 * A leftover background process may hold a pipe open long after the
 * process it belongs to has exited. Once the linger time has passed, an
 * idle pipe counts as ended; one still carrying output stays open.
 */
static int64_t linger(struct agent *agent, struct proc *p, int64_t now_ms)
{
	int64_t deadline_ms = p->exited_ms + PROC_LINGER_MS;
	int which;

	if (!p->exited || now_ms < deadline_ms)
		return p->exited ? deadline_ms : INT64_MAX;
	for (which = 0; which < 2 && p->in_use; which++) {
		if (p->out[which].fd < 0 || output_paused(agent))
			continue;
		if (read_output(agent, p, which) < 0 && errno == EAGAIN) {
			debug("stream %u: output outlived its process",
			      p->stream);
			end_output(agent, p, which);
		}
	}
	return now_ms + LINGER_RECHECK_MS;
}

int64_t proc_tick(struct agent *agent, int64_t now_ms)
{
	int64_t next_ms = INT64_MAX;
	int i;

	for (i = 0; i < PROC_SLOTS; i++) {
		int64_t deadline_ms;

		if (!table[i].in_use)
			continue;
		deadline_ms = linger(agent, &table[i], now_ms);
		if (deadline_ms < next_ms)
			next_ms = deadline_ms;
	}
	return next_ms;
}
