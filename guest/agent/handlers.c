/*
 * One handler per host message (docs/protocol.md, "Host to guest").
 * Frames arrive with their header checked and their field list known to
 * be well formed; field values are checked here, and a bad one is
 * answered with ERROR (EINVAL) on the frame's stream.
 */
#define _GNU_SOURCE
#include "handlers.h"

#include "diag.h"
#include "lease.h"
#include "proc.h"
#include "spawn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HELLO_PAYLOAD_BYTES 256
#define GRACE_MS_DEFAULT 5000
#define GRACE_MS_MAX 600000
#define MESSAGE_BYTES 256

/*
 * Reads the last field with tag as an integer in [min, max].
 * Returns 1 when found, 0 when absent, -1 after answering ERROR.
 */
static int find_int(struct agent *agent, const struct frame_header *h,
		    const uint8_t *payload, uint8_t tag, int64_t min,
		    int64_t max, int64_t *out)
{
	char message[MESSAGE_BYTES];
	struct field_reader r;
	struct field f;
	int found = 0;

	field_reader_init(&r, payload, h->length);
	while (field_reader_next(&r, &f) > 0) {
		if (f.tag != tag)
			continue;
		if (field_check_int(&f, min, max, out, message,
				    sizeof(message)) < 0) {
			channel_send_error(&agent->channel, h->stream, EINVAL,
					   "%s", message);
			return -1;
		}
		found = 1;
	}
	return found;
}

/* Like find_int for a field the message cannot do without. */
static int require_int(struct agent *agent, const struct frame_header *h,
		       const uint8_t *payload, uint8_t tag, int64_t min,
		       int64_t max, int64_t *out)
{
	int found = find_int(agent, h, payload, tag, min, max, out);

	if (found == 0)
		channel_send_error(&agent->channel, h->stream, EINVAL,
				   "field %s is required", field_name(tag));
	return found == 1 ? 0 : -1;
}

static void send_ack(struct agent *agent, uint32_t stream)
{
	channel_send(&agent->channel, MSG_ACK, stream, NULL, 0);
}

static void send_started(struct agent *agent, uint32_t stream, pid_t pid)
{
	uint8_t payload[FIELD_HEADER_BYTES + 8];
	struct field_writer w;

	field_writer_init(&w, payload, sizeof(payload));
	field_put_int(&w, TAG_PID, pid);
	channel_send(&agent->channel, MSG_STARTED, stream, payload, w.length);
}

/* docs/protocol.md, "Hello": the answer goes ahead of queued output. */
static void handle_hello_req(struct agent *agent)
{
	uint8_t payload[HELLO_PAYLOAD_BYTES];
	struct field_writer w;

	field_writer_init(&w, payload, sizeof(payload));
	field_put_string(&w, TAG_AGENT_VERSION, AGENT_VERSION);
	field_put_int(&w, TAG_PROTOCOL, FRAME_VERSION);
	field_put_int(&w, TAG_BOOT_NS, agent->boot_ns);
	field_put_int(&w, TAG_ROOT_READY_NS, agent->root_ready_ns);
	field_put_int(&w, TAG_NOW_NS, clock_boot_ns());
	field_put_int(&w, TAG_WORKLOAD, agent->workload);
	if (agent->workload != WORKLOAD_NOT_STARTED)
		field_put_int(&w, TAG_PID, agent->workload_pid);
	field_put_int(&w, TAG_HOLD_MS, lease_hello_hold_ms(clock_mono_ms()));
	channel_send_first(&agent->channel, MSG_HELLO, 0, payload, w.length);
}

static int set_hostname(const struct spawn_spec *spec,
			struct spawn_error *err)
{
	if (spec->hostname == NULL ||
	    sethostname(spec->hostname, strlen(spec->hostname)) == 0)
		return 0;
	err->code = errno;
	snprintf(err->message, sizeof(err->message), "sethostname %s: %s",
		 spec->hostname, strerror(errno));
	return -1;
}

/*
 * Parses the fields and spawns. Returns -1 after answering ERROR, else
 * whether the process runs on a tty.
 */
static int spawn_from_fields(struct agent *agent,
			     const struct frame_header *h,
			     const uint8_t *payload, int is_workload,
			     struct spawned *spawned)
{
	struct spawn_spec spec;
	struct spawn_error err;
	int result = 0;

	if (spawn_spec_parse(&spec, payload, h->length, &err) < 0) {
		channel_send_error(&agent->channel, h->stream, err.code, "%s",
				   err.message);
		return -1;
	}
	if (is_workload) {
		/* The workload logs line by line and reads nothing. */
		spec.tty = spec.with_stdin = 0;
		result = set_hostname(&spec, &err);
	}
	if (result == 0)
		result = spawn_process(&spec, spawned, &err);
	if (result < 0)
		channel_send_error(&agent->channel, h->stream, err.code, "%s",
				   err.message);
	else
		result = spec.tty;
	spawn_spec_free(&spec);
	return result;
}

static int refuse_when_stopping(struct agent *agent, uint32_t stream)
{
	if (agent->phase == PHASE_RUN)
		return 0;
	channel_send_error(&agent->channel, stream, ESHUTDOWN,
			   "the VM is shutting down");
	return -1;
}

static void handle_start(struct agent *agent, const struct frame_header *h,
			 const uint8_t *payload)
{
	struct spawned spawned;

	if (h->stream != 0) {
		channel_send_error(&agent->channel, h->stream, EINVAL,
				   "START goes on stream 0");
		return;
	}
	if (refuse_when_stopping(agent, 0) < 0)
		return;
	if (agent->workload != WORKLOAD_NOT_STARTED) {
		channel_send_error(&agent->channel, 0, EALREADY,
				   "the workload was already started");
		return;
	}
	if (spawn_from_fields(agent, h, payload, 1, &spawned) < 0)
		return;

	proc_add(0, &spawned, 0);
	agent->workload = WORKLOAD_RUNNING;
	agent->workload_pid = spawned.pid;
	agent->children_left = 1;
	send_started(agent, 0, spawned.pid);
	debug("workload started as pid %d", (int)spawned.pid);
}

static int check_exec_stream(struct agent *agent, uint32_t stream)
{
	if (stream == 0) {
		channel_send_error(&agent->channel, 0, EINVAL,
				   "EXEC needs a stream id from 1");
		return -1;
	}
	if (refuse_when_stopping(agent, stream) < 0)
		return -1;
	if (proc_stream_open(stream)) {
		channel_send_error(&agent->channel, stream, EBUSY,
				   "stream %u is in use", stream);
		return -1;
	}
	if (proc_session_count() >= PROC_SESSIONS_MAX) {
		channel_send_error(&agent->channel, stream, EAGAIN,
				   "%d exec sessions are running already",
				   PROC_SESSIONS_MAX);
		return -1;
	}
	return 0;
}

static void handle_exec(struct agent *agent, const struct frame_header *h,
			const uint8_t *payload)
{
	struct spawned spawned;
	int tty;

	if (check_exec_stream(agent, h->stream) < 0)
		return;
	tty = spawn_from_fields(agent, h, payload, 0, &spawned);
	if (tty < 0)
		return;

	proc_add(h->stream, &spawned, tty);
	agent->children_left = 1;
	send_started(agent, h->stream, spawned.pid);
}

static void handle_resize(struct agent *agent, const struct frame_header *h,
			  const uint8_t *payload)
{
	int64_t rows, cols;

	if (require_int(agent, h, payload, TAG_ROWS, 1, 65535, &rows) < 0 ||
	    require_int(agent, h, payload, TAG_COLS, 1, 65535, &cols) < 0)
		return;
	proc_resize(h->stream, (unsigned short)rows, (unsigned short)cols);
}

static void handle_signal(struct agent *agent, const struct frame_header *h,
			  const uint8_t *payload)
{
	int64_t signal_number;

	if (require_int(agent, h, payload, TAG_SIGNAL, 1, 64,
			&signal_number) < 0)
		return;
	proc_signal(h->stream, (int)signal_number);
}

static void handle_set_clock(struct agent *agent,
			     const struct frame_header *h,
			     const uint8_t *payload)
{
	struct timespec now;
	int64_t realtime_ns;

	if (require_int(agent, h, payload, TAG_REALTIME_NS, 0, INT64_MAX,
			&realtime_ns) < 0)
		return;
	now.tv_sec = (time_t)(realtime_ns / 1000000000);
	now.tv_nsec = (long)(realtime_ns % 1000000000);
	if (clock_settime(CLOCK_REALTIME, &now) < 0) {
		channel_send_error(&agent->channel, h->stream, errno,
				   "clock_settime: %s", strerror(errno));
		return;
	}
	send_ack(agent, h->stream);
}

static void handle_shutdown(struct agent *agent,
			    const struct frame_header *h,
			    const uint8_t *payload)
{
	int64_t grace_ms = GRACE_MS_DEFAULT;

	if (find_int(agent, h, payload, TAG_GRACE_MS, 0, GRACE_MS_MAX,
		     &grace_ms) < 0)
		return;
	agent_begin_shutdown(agent, grace_ms);
}

void handle_frame(void *context, const struct frame_header *h,
		  const uint8_t *payload)
{
	struct agent *agent = context;

	debug("frame 0x%02x stream %u, %u bytes", h->type, h->stream,
	      h->length);
	switch (h->type) {
	case MSG_HELLO_REQ:
		handle_hello_req(agent);
		break;
	case MSG_START:
		handle_start(agent, h, payload);
		break;
	case MSG_EXEC:
		handle_exec(agent, h, payload);
		break;
	case MSG_STDIN:
		proc_stdin(agent, h->stream, payload, h->length);
		break;
	case MSG_RESIZE:
		handle_resize(agent, h, payload);
		break;
	case MSG_SIGNAL:
		handle_signal(agent, h, payload);
		break;
	case MSG_SET_CLOCK:
		handle_set_clock(agent, h, payload);
		break;
	case MSG_SHUTDOWN:
		handle_shutdown(agent, h, payload);
		break;
	case MSG_PING:
		send_ack(agent, h->stream);
		break;
	}
}
