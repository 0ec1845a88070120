/* The output queue towards the host; see outq.h for its layout. */
#include "outq.h"

#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUTQ_INITIAL_BYTES (64u << 10)

static size_t frame_bytes_at(const struct outq *q, size_t offset)
{
	return FRAME_HEADER_BYTES + frame_get_u32(q->buf + offset + 8);
}

/* Moves the live bytes to the front, keeping the head frame whole. */
static void compact(struct outq *q)
{
	size_t live = q->tail - q->frame_start;

	if (q->frame_start == 0)
		return;
	memmove(q->buf, q->buf + q->frame_start, live);
	q->head -= q->frame_start;
	q->tail = live;
	q->frame_start = 0;
}

/* Makes room for extra more bytes at the tail. */
static int reserve(struct outq *q, size_t extra)
{
	size_t needed;
	size_t capacity;
	uint8_t *grown;

	if (q->capacity - q->tail >= extra)
		return 0;
	compact(q);
	needed = q->tail + extra;
	if (q->capacity >= needed)
		return 0;
	if (needed > OUTQ_HARD_MAX_BYTES) {
		errno = ENOBUFS;
		return -1;
	}

	capacity = q->capacity ? q->capacity : OUTQ_INITIAL_BYTES;
	while (capacity < needed)
		capacity *= 2;
	grown = realloc(q->buf, capacity);
	if (grown == NULL)
		return -1;
	q->buf = grown;
	q->capacity = capacity;
	return 0;
}

int outq_push(struct outq *q, uint8_t type, uint32_t stream,
	      const struct iovec *parts, int part_count)
{
	size_t length = 0;
	uint8_t *p;
	int i;

	for (i = 0; i < part_count; i++)
		length += parts[i].iov_len;
	if (length > FRAME_PAYLOAD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (reserve(q, FRAME_HEADER_BYTES + length) < 0)
		return -1;

	p = q->buf + q->tail;
	frame_encode_header(p, type, stream, (uint32_t)length);
	p += FRAME_HEADER_BYTES;
	for (i = 0; i < part_count; i++) {
		if (parts[i].iov_len > 0)
			memcpy(p, parts[i].iov_base, parts[i].iov_len);
		p += parts[i].iov_len;
	}
	q->tail += FRAME_HEADER_BYTES + length;
	return 0;
}

/* Where a new first frame may go: after a partly written head frame. */
static size_t front_offset(const struct outq *q)
{
	if (q->head == q->frame_start)
		return q->head;
	return q->frame_start + frame_bytes_at(q, q->frame_start);
}

int outq_push_front(struct outq *q, uint8_t type, uint32_t stream,
		    const void *payload, size_t length)
{
	size_t bytes = FRAME_HEADER_BYTES + length;
	size_t at;

	if (length > FRAME_PAYLOAD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (reserve(q, bytes) < 0)
		return -1;

	at = front_offset(q);
	memmove(q->buf + at + bytes, q->buf + at, q->tail - at);
	frame_encode_header(q->buf + at, type, stream, (uint32_t)length);
	if (length > 0)
		memcpy(q->buf + at + FRAME_HEADER_BYTES, payload, length);
	q->tail += bytes;
	return 0;
}

size_t outq_pending_bytes(const struct outq *q)
{
	return q->tail - q->head;
}

/* Moves frame_start past every frame that is now fully written. */
static void advance_frame_start(struct outq *q)
{
	while (q->frame_start < q->head &&
	       q->frame_start + frame_bytes_at(q, q->frame_start) <= q->head)
		q->frame_start += frame_bytes_at(q, q->frame_start);
	if (q->head == q->tail)
		q->frame_start = q->head = q->tail = 0;
}

ssize_t outq_write(struct outq *q, int fd)
{
	ssize_t written;

	if (q->head == q->tail)
		return 0;
	do
		written = write(fd, q->buf + q->head, q->tail - q->head);
	while (written < 0 && errno == EINTR);
	if (written <= 0)
		return written;

	q->head += (size_t)written;
	advance_frame_start(q);
	return written;
}

void outq_rewind_partial(struct outq *q)
{
	q->head = q->frame_start;
}
