/*
 * The queue of whole frames waiting to go to the host. One contiguous
 * buffer: [frame_start, head) is the part of the head frame already
 * written, [head, tail) is what remains to write. Knowing where the head
 * frame starts lets the queue put HELLO right after it and re-send it whole
 * on a new connection.
 */
#ifndef AEGIS_OUTQ_H
#define AEGIS_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* A backstop far above the 1 MiB at which the agent stops producing. */
#define OUTQ_HARD_MAX_BYTES (8u << 20)

struct outq {
	uint8_t *buf;
	size_t capacity;
	size_t frame_start;
	size_t head;
	size_t tail;
};

/* Appends one frame whose payload is the concatenation of parts. */
int outq_push(struct outq *q, uint8_t type, uint32_t stream,
	      const struct iovec *parts, int part_count);

/* Inserts a frame ahead of everything not yet started. */
int outq_push_front(struct outq *q, uint8_t type, uint32_t stream,
		    const void *payload, size_t length);

/* Bytes queued and not yet written. */
size_t outq_pending_bytes(const struct outq *q);

/* Writes what the fd takes; returns bytes written or -1 with errno. */
ssize_t outq_write(struct outq *q, int fd);

/* Forgets a half-written head frame's progress so it goes out whole. */
void outq_rewind_partial(struct outq *q);

#endif
