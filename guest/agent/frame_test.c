/*
 * Unit test of the wire codec (frame.c) and the output queue (outq.c),
 * built with the host compiler by `make check`.
 */
#include "frame.h"
#include "outq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define EXPECT(condition)                                                  \
	do {                                                               \
		if (!(condition)) {                                        \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__,  \
				__LINE__, #condition);                     \
			failures++;                                        \
		}                                                          \
	} while (0)

static void test_header_round_trip(void)
{
	uint8_t raw[FRAME_HEADER_BYTES];
	struct frame_header h;

	frame_encode_header(raw, MSG_EXEC, 0x01020304, 65536);
	EXPECT(raw[0] == 0xAE && raw[1] == 0x61 && raw[2] == 1);
	EXPECT(raw[4] == 1 && raw[7] == 4);
	EXPECT(frame_decode_header(raw, &h) == HEADER_OK);
	EXPECT(h.type == MSG_EXEC && h.stream == 0x01020304);
	EXPECT(h.length == 65536);
}

static void test_header_rejections(void)
{
	uint8_t raw[FRAME_HEADER_BYTES];
	struct frame_header h;

	frame_encode_header(raw, MSG_PING, 1, 65537);
	EXPECT(frame_decode_header(raw, &h) == HEADER_TOO_LONG);
	frame_encode_header(raw, MSG_HELLO, 0, 0);
	EXPECT(frame_decode_header(raw, &h) == HEADER_BAD_TYPE);
	frame_encode_header(raw, 0x0A, 0, 0);
	EXPECT(frame_decode_header(raw, &h) == HEADER_BAD_TYPE);
	frame_encode_header(raw, MSG_PING, 0, 0);
	raw[2] = 2;
	EXPECT(frame_decode_header(raw, &h) == HEADER_BAD_VERSION);
	raw[2] = 1;
	raw[1] = 0x60;
	EXPECT(frame_decode_header(raw, &h) == HEADER_BAD_MAGIC);
}

static void test_fields_round_trip(void)
{
	uint8_t buf[128];
	struct field_writer w;
	struct field_reader r;
	struct field f;
	char message[128];
	int64_t value;
	int flag;

	field_writer_init(&w, buf, sizeof(buf));
	field_put_int(&w, TAG_ROWS, 40);
	field_put_string(&w, TAG_ARGV, "sh");
	field_put_bytes(&w, TAG_TTY, "\x01", 1);
	field_put_int(&w, TAG_SIGNAL, -5);
	EXPECT(!w.overflow && w.length == 13 + 7 + 6 + 13);
	EXPECT(fields_well_formed(buf, w.length) == 0);

	field_reader_init(&r, buf, w.length);
	EXPECT(field_reader_next(&r, &f) == 1 && f.tag == TAG_ROWS);
	EXPECT(field_check_int(&f, 1, 65535, &value, message, 128) == 0);
	EXPECT(value == 40);
	EXPECT(field_reader_next(&r, &f) == 1 && f.length == 2);
	EXPECT(field_check_string(&f, 16, message, 128) == 0);
	EXPECT(field_check_string(&f, 1, message, 128) == -1);
	EXPECT(field_reader_next(&r, &f) == 1);
	EXPECT(field_check_flag(&f, &flag, message, 128) == 0 && flag == 1);
	EXPECT(field_reader_next(&r, &f) == 1);
	EXPECT(field_check_int(&f, 1, 64, &value, message, 128) == -1);
	EXPECT(strstr(message, "signal") != NULL);
	EXPECT(field_reader_next(&r, &f) == 0);
}

static void test_field_errors(void)
{
	uint8_t buf[16] = { TAG_CWD, 0, 0, 0, 4, 'a', 0, 'b', 'c' };
	struct field_reader r;
	struct field f;
	char message[128];
	int flag;

	EXPECT(fields_well_formed(buf, 9) == 0);
	EXPECT(fields_well_formed(buf, 8) == -1); /* runs past the end */
	EXPECT(fields_well_formed(buf, 3) == -1); /* cut header */
	field_reader_init(&r, buf, 9);
	EXPECT(field_reader_next(&r, &f) == 1);
	EXPECT(field_check_string(&f, 100, message, 128) == -1);
	EXPECT(strstr(message, "NUL") != NULL);
	f.length = 1;
	f.value = (const uint8_t *)"\x02";
	EXPECT(field_check_flag(&f, &flag, message, 128) == -1);

	buf[1] = 0xFF; /* a length near 4 GiB must not wrap */
	EXPECT(fields_well_formed(buf, 9) == -1);
}

static void test_writer_overflow(void)
{
	uint8_t buf[10];
	struct field_writer w;

	field_writer_init(&w, buf, sizeof(buf));
	field_put_int(&w, TAG_PID, 1);
	EXPECT(w.overflow && w.length == 0);
}

/* Writes the queue into a pipe and reads back what came out. */
static size_t drain(struct outq *q, const int *fds, uint8_t *out,
		    size_t limit)
{
	size_t total = 0;

	while (outq_write(q, fds[1]) > 0)
		;
	while (total < limit && read(fds[0], out + total, 1) == 1)
		total++;
	return total;
}

static void push_text(struct outq *q, uint8_t type, const char *text)
{
	struct iovec part = { (void *)text, strlen(text) };

	EXPECT(outq_push(q, type, 7, &part, 1) == 0);
}

/* HELLO goes after a half-written head frame and before the rest. */
static void test_outq_front_after_partial(void)
{
	struct outq q = { 0 };
	uint8_t out[256];
	int fds[2];
	size_t n;

	EXPECT(pipe(fds) == 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	push_text(&q, MSG_STDOUT, "abcdef");
	push_text(&q, MSG_STDERR, "xy");

	q.head = 5; /* as if 5 bytes of the first frame went out */
	EXPECT(outq_push_front(&q, MSG_HELLO, 0, "H", 1) == 0);
	n = drain(&q, fds, out, sizeof(out));
	EXPECT(n == (12 + 6 - 5) + (12 + 1) + (12 + 2));
	EXPECT(out[(18 - 5) + 3] == MSG_HELLO);
	EXPECT(outq_pending_bytes(&q) == 0);

	push_text(&q, MSG_STDOUT, "abc");
	q.head = 4;
	outq_rewind_partial(&q);
	EXPECT(outq_pending_bytes(&q) == 15);
	EXPECT(outq_push_front(&q, MSG_HELLO, 0, NULL, 0) == 0);
	n = drain(&q, fds, out, sizeof(out));
	EXPECT(n == 27 && out[3] == MSG_HELLO && out[15] == MSG_STDOUT);
	free(q.buf);
	close(fds[0]);
	close(fds[1]);
}

/* The queue grows past its first buffer and refuses the oversized. */
static void test_outq_growth(void)
{
	static uint8_t big[FRAME_PAYLOAD_MAX + 1];
	struct outq q = { 0 };
	struct iovec part = { big, FRAME_PAYLOAD_MAX };
	int i;

	for (i = 0; i < 40; i++)
		EXPECT(outq_push(&q, MSG_STDOUT, 1, &part, 1) == 0);
	EXPECT(outq_pending_bytes(&q) == 40 * (FRAME_PAYLOAD_MAX + 12));
	part.iov_len = FRAME_PAYLOAD_MAX + 1;
	EXPECT(outq_push(&q, MSG_STDOUT, 1, &part, 1) == -1);
	EXPECT(errno == EMSGSIZE);
	part.iov_len = FRAME_PAYLOAD_MAX;
	for (i = 0; i < 200 && outq_push(&q, MSG_STDOUT, 1, &part, 1) == 0;
	     i++)
		;
	EXPECT(errno == ENOBUFS);
	EXPECT(outq_pending_bytes(&q) <= OUTQ_HARD_MAX_BYTES);
	free(q.buf);
}

int main(void)
{
	test_header_round_trip();
	test_header_rejections();
	test_fields_round_trip();
	test_field_errors();
	test_writer_overflow();
	test_outq_front_after_partial();
	test_outq_growth();
	if (failures > 0) {
		fprintf(stderr, "frame-test: %d failures\n", failures);
		return 1;
	}
	printf("frame-test: all passed\n");
	return 0;
}
