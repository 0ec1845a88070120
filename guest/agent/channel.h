/*
 * The control channel: the virtio-serial port named aegis.ctl, its
 * connection state, the decoder of frames from the host and the queue of
 * frames towards it (docs/protocol.md).
 *
 * While no host is connected the port polls as POLLIN|POLLHUP and reads
 * return 0, so the loop must not poll it then: it re-checks the
 * connection every CHANNEL_RECHECK_MS instead. What is written while
 * disconnected is lost, and the host discards everything before the first
 * HELLO of a connection, so output waits until the host's HELLO_REQ.
 */
#ifndef AEGIS_CHANNEL_H
#define AEGIS_CHANNEL_H

#include "frame.h"
#include "outq.h"

#include <stdint.h>

#define CHANNEL_PORT_NAME "aegis.ctl"
#define CHANNEL_RECHECK_MS 50
/* Stop reading requests while this much output waits for the host. */
#define CHANNEL_INPUT_PAUSE_BYTES (2u << 20)

typedef void (*frame_handler)(void *context, const struct frame_header *h,
			      const uint8_t *payload);

struct channel {
	int fd;
	int connected;
	int greeted; /* HELLO_REQ seen on this connection: output may flow */
	int64_t next_check_ms;

	uint8_t header[FRAME_HEADER_BYTES];
	size_t header_bytes;
	struct frame_header frame;
	uint8_t *payload;
	size_t payload_bytes;
	int skipping; /* after a protocol error, until the host reconnects */
	size_t resync_matched;

	struct outq out;
	frame_handler handler;
	void *context;
};

/* Finds and opens the port, waiting a few seconds for it to appear. */
int channel_open(struct channel *ch, frame_handler handler, void *context);

/* Marks the channel connected once POLLHUP has cleared. */
void channel_check_connection(struct channel *ch, int64_t now_ms);

/* Whether the port belongs in the poll set (it reports POLLHUP even
 * with no events requested), and the events to ask for. */
int channel_wants_poll(const struct channel *ch);
short channel_poll_events(const struct channel *ch);

void channel_on_events(struct channel *ch, short revents, int64_t now_ms);

/* Writes queued frames while the port takes them. */
void channel_flush(struct channel *ch);

int channel_send(struct channel *ch, uint8_t type, uint32_t stream,
		 const void *payload, size_t length);
int channel_send_parts(struct channel *ch, uint8_t type, uint32_t stream,
		       const struct iovec *parts, int part_count);
/* Queues a frame ahead of everything not yet started (HELLO). */
int channel_send_first(struct channel *ch, uint8_t type, uint32_t stream,
		       const void *payload, size_t length);
void channel_send_error(struct channel *ch, uint32_t stream, int code,
			const char *format, ...)
	__attribute__((format(printf, 4, 5)));

size_t channel_pending_bytes(const struct channel *ch);

#endif
