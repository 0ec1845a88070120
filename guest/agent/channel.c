/* The control channel; see channel.h. */
#define _GNU_SOURCE
#include "channel.h"

#include "diag.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORTS_DIR "/sys/class/virtio-ports"
#define PORT_WAIT_MS 5000
#define PORT_POLL_MS 10
#define READ_BUFFER_BYTES 65536
#define STALE_READS_MAX 64
#define ERROR_MESSAGE_BYTES 1024

/* A complete HELLO_REQ frame: where decoding may resume after an error. */
static const uint8_t hello_req_frame[FRAME_HEADER_BYTES] = {
	FRAME_MAGIC_0, FRAME_MAGIC_1, FRAME_VERSION, MSG_HELLO_REQ,
	0, 0, 0, 0, 0, 0, 0, 0,
};

static int port_has_our_name(const char *port)
{
	char path[300];
	char name[64];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), PORTS_DIR "/%s/name", port);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	got = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (got <= 0)
		return 0;
	name[got] = '\0';
	name[strcspn(name, "\n")] = '\0';
	return strcmp(name, CHANNEL_PORT_NAME) == 0;
}

/* Opens /dev/vportNpM whose sysfs name is aegis.ctl; -1 if none yet. */
static int open_named_port(void)
{
	DIR *dir = opendir(PORTS_DIR);
	struct dirent *entry;
	char path[300];
	int fd = -1;

	if (dir == NULL)
		return -1;
	while (fd < 0 && (entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.' ||
		    !port_has_our_name(entry->d_name))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", entry->d_name);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			diag("open %s: %s", path, strerror(errno));
	}
	closedir(dir);
	return fd;
}

int channel_open(struct channel *ch, frame_handler handler, void *context)
{
	int64_t deadline_ms = clock_mono_ms() + PORT_WAIT_MS;
	struct timespec pause = { 0, PORT_POLL_MS * 1000000L };

	memset(ch, 0, sizeof(*ch));
	ch->handler = handler;
	ch->context = context;
	ch->payload = malloc(FRAME_PAYLOAD_MAX);
	if (ch->payload == NULL)
		return -1;
	while ((ch->fd = open_named_port()) < 0) {
		if (clock_mono_ms() >= deadline_ms) {
			diag("no virtio-serial port named %s",
			     CHANNEL_PORT_NAME);
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	ch->next_check_ms = 0;
	return 0;
}

void channel_check_connection(struct channel *ch, int64_t now_ms)
{
	struct pollfd probe = { .fd = ch->fd, .events = POLLIN };

	if (ch->connected || now_ms < ch->next_check_ms)
		return;
	ch->next_check_ms = now_ms + CHANNEL_RECHECK_MS;
	if (poll(&probe, 1, 0) < 0 || (probe.revents & POLLHUP))
		return;
	ch->connected = 1;
	debug("host connected");
}

int channel_wants_poll(const struct channel *ch)
{
	return ch->connected;
}

short channel_poll_events(const struct channel *ch)
{
	short events = 0;

	if (channel_pending_bytes(ch) < CHANNEL_INPUT_PAUSE_BYTES)
		events |= POLLIN;
	if (ch->greeted && channel_pending_bytes(ch) > 0)
		events |= POLLOUT;
	return events;
}

static void reset_decoder(struct channel *ch)
{
	ch->header_bytes = 0;
	ch->payload_bytes = 0;
	ch->skipping = 0;
	ch->resync_matched = 0;
}

static ssize_t read_input(struct channel *ch);

/*
 * Decodes what the host wrote before it left (a SHUTDOWN sent just before
 * closing still counts), but only while it stays away: once it is back,
 * the bytes are the next host's.
 */
static void drain_departed_host(struct channel *ch)
{
	struct pollfd probe = { .fd = ch->fd, .events = POLLIN };
	int reads;

	for (reads = 0; reads < STALE_READS_MAX; reads++) {
		if (poll(&probe, 1, 0) <= 0 ||
		    (probe.revents & (POLLIN | POLLHUP)) != (POLLIN | POLLHUP))
			break;
		if (read_input(ch) <= 0)
			break;
	}
}

static void on_hangup(struct channel *ch, int64_t now_ms)
{
	drain_departed_host(ch);
	ch->connected = 0;
	ch->greeted = 0;
	ch->next_check_ms = now_ms + CHANNEL_RECHECK_MS;
	reset_decoder(ch);
	/* The next host needs the head frame whole, after its HELLO. */
	outq_rewind_partial(&ch->out);
	debug("host disconnected");
}

/* docs/protocol.md, "Frames": skip input until the host starts over. */
static void protocol_error(struct channel *ch, const char *why)
{
	diag("protocol error: %s; skipping input until the host reconnects",
	     why);
	if (ch->greeted)
		channel_send_error(ch, 0, EPROTO, "protocol error: %s", why);
	reset_decoder(ch);
	ch->skipping = 1;
}

static void dispatch(struct channel *ch)
{
	const struct frame_header *h = &ch->frame;

	if (frame_type_has_fields(h->type) &&
	    fields_well_formed(ch->payload, h->length) < 0) {
		protocol_error(ch, "a field runs past the end of the payload");
		return;
	}
	if (h->type == MSG_HELLO_REQ)
		ch->greeted = 1;
	ch->header_bytes = 0;
	ch->payload_bytes = 0;
	ch->handler(ch->context, h, ch->payload);
}

/*
 * While skipping, looks for a whole HELLO_REQ frame: a host that
 * reconnected between two polls leaves no POLLHUP to notice.
 * Returns the bytes consumed.
 */
static size_t resync(struct channel *ch, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == hello_req_frame[ch->resync_matched])
			ch->resync_matched++;
		else
			ch->resync_matched = p[i] == hello_req_frame[0];
		if (ch->resync_matched == FRAME_HEADER_BYTES) {
			reset_decoder(ch);
			memcpy(ch->header, hello_req_frame, FRAME_HEADER_BYTES);
			frame_decode_header(ch->header, &ch->frame);
			dispatch(ch);
			return i + 1;
		}
	}
	return n;
}

static size_t take_header(struct channel *ch, const uint8_t *p, size_t n)
{
	size_t take = FRAME_HEADER_BYTES - ch->header_bytes;
	enum header_status status;

	if (take > n)
		take = n;
	memcpy(ch->header + ch->header_bytes, p, take);
	ch->header_bytes += take;
	if (ch->header_bytes < FRAME_HEADER_BYTES)
		return take;

	status = frame_decode_header(ch->header, &ch->frame);
	if (status != HEADER_OK)
		protocol_error(ch, frame_header_status_text(status));
	else if (ch->frame.length == 0)
		dispatch(ch);
	return take;
}

static size_t take_payload(struct channel *ch, const uint8_t *p, size_t n)
{
	size_t take = ch->frame.length - ch->payload_bytes;

	if (take > n)
		take = n;
	memcpy(ch->payload + ch->payload_bytes, p, take);
	ch->payload_bytes += take;
	if (ch->payload_bytes == ch->frame.length)
		dispatch(ch);
	return take;
}

static void decode(struct channel *ch, const uint8_t *p, size_t n)
{
	size_t used;

	while (n > 0) {
		if (ch->skipping)
			used = resync(ch, p, n);
		else if (ch->header_bytes < FRAME_HEADER_BYTES)
			used = take_header(ch, p, n);
		else
			used = take_payload(ch, p, n);
		p += used;
		n -= used;
	}
}

static ssize_t read_input(struct channel *ch)
{
	static uint8_t buffer[READ_BUFFER_BYTES];
	ssize_t got;

	do
		got = read(ch->fd, buffer, sizeof(buffer));
	while (got < 0 && errno == EINTR);
	if (got > 0)
		decode(ch, buffer, (size_t)got);
	else if (got < 0 && errno != EAGAIN)
		diag("read control port: %s", strerror(errno));
	return got;
}

void channel_on_events(struct channel *ch, short revents, int64_t now_ms)
{
	if (revents & (POLLHUP | POLLERR))
		on_hangup(ch, now_ms);
	else if (revents & POLLIN)
		read_input(ch);
	if (ch->connected && (revents & POLLOUT))
		channel_flush(ch);
}

void channel_flush(struct channel *ch)
{
	ssize_t wrote;

	if (!ch->connected || !ch->greeted)
		return;
	do
		wrote = outq_write(&ch->out, ch->fd);
	while (wrote > 0);
	if (wrote < 0 && errno != EAGAIN)
		diag("write control port: %s", strerror(errno));
}

int channel_send_parts(struct channel *ch, uint8_t type, uint32_t stream,
		       const struct iovec *parts, int part_count)
{
	if (outq_push(&ch->out, type, stream, parts, part_count) == 0)
		return 0;
	diag("frame 0x%02x for stream %u dropped: %s", type, stream,
	     strerror(errno));
	return -1;
}

int channel_send(struct channel *ch, uint8_t type, uint32_t stream,
		 const void *payload, size_t length)
{
	struct iovec part = { (void *)payload, length };

	return channel_send_parts(ch, type, stream, &part, 1);
}

int channel_send_first(struct channel *ch, uint8_t type, uint32_t stream,
		       const void *payload, size_t length)
{
	if (outq_push_front(&ch->out, type, stream, payload, length) == 0)
		return 0;
	diag("frame 0x%02x dropped: %s", type, strerror(errno));
	return -1;
}

/* Bytes in the UTF-8 sequence that starts with lead. */
static size_t utf8_sequence_bytes(uint8_t lead)
{
	if (lead >= 0xF0)
		return 4;
	if (lead >= 0xE0)
		return 3;
	return lead >= 0xC0 ? 2 : 1;
}

/* A message cut at a size limit must not end inside a UTF-8 sequence. */
static void drop_cut_utf8_tail(char *text)
{
	size_t length = strlen(text);
	size_t start = length;

	while (start > 0 && length - start < 4 &&
	       ((uint8_t)text[start - 1] & 0xC0) == 0x80)
		start--;
	if (start > 0 && length - start < 4 &&
	    length - (start - 1) < utf8_sequence_bytes(text[start - 1]))
		text[start - 1] = '\0';
}

void channel_send_error(struct channel *ch, uint32_t stream, int code,
			const char *format, ...)
{
	uint8_t payload[FIELD_HEADER_BYTES * 2 + 8 + ERROR_MESSAGE_BYTES];
	char message[ERROR_MESSAGE_BYTES + 1];
	struct field_writer w;
	va_list args;

	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	drop_cut_utf8_tail(message);

	debug("error on stream %u: %s", stream, message);
	field_writer_init(&w, payload, sizeof(payload));
	field_put_int(&w, TAG_ERRNO, code);
	field_put_string(&w, TAG_MESSAGE, message);
	channel_send(ch, MSG_ERROR, stream, payload, w.length);
}

size_t channel_pending_bytes(const struct channel *ch)
{
	return outq_pending_bytes(&ch->out);
}
