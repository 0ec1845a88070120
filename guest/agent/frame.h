/*
 * The wire format of the control channel: frame headers and field lists,
 * as docs/protocol.md ("Frames", "Payloads") defines them. Pure code with
 * no I/O, so that the host-side unit test can exercise it.
 */
#ifndef AEGIS_FRAME_H
#define AEGIS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC_0 0xAE
#define FRAME_MAGIC_1 0x61
#define FRAME_VERSION 1
#define FRAME_HEADER_BYTES 12
#define FRAME_PAYLOAD_MAX 65536
#define FIELD_HEADER_BYTES 5

enum frame_type {
	MSG_HELLO_REQ = 0x01,
	MSG_START = 0x02,
	MSG_EXEC = 0x03,
	MSG_STDIN = 0x04,
	MSG_RESIZE = 0x05,
	MSG_SIGNAL = 0x06,
	MSG_SET_CLOCK = 0x07,
	MSG_SHUTDOWN = 0x08,
	MSG_PING = 0x09,
	MSG_HELLO = 0x81,
	MSG_LOG = 0x82,
	MSG_STARTED = 0x83,
	MSG_STDOUT = 0x84,
	MSG_STDERR = 0x85,
	MSG_EXIT = 0x86,
	MSG_ERROR = 0x87,
	MSG_ACK = 0x88,
	MSG_WINDOW = 0x89,
	MSG_LEASE = 0x8A,
};

enum field_tag {
	TAG_ARGV = 1,
	TAG_ENV = 2,
	TAG_CWD = 3,
	TAG_UID = 4,
	TAG_GID = 5,
	TAG_TTY = 6,
	TAG_ROWS = 7,
	TAG_COLS = 8,
	TAG_STDIN = 9,
	TAG_SIGNAL = 10,
	TAG_PID = 11,
	TAG_EXIT_CODE = 12,
	TAG_REALTIME_NS = 13,
	TAG_ERRNO = 14,
	TAG_MESSAGE = 15,
	TAG_AGENT_VERSION = 16,
	TAG_PROTOCOL = 17,
	TAG_BOOT_NS = 18,
	TAG_ROOT_READY_NS = 19,
	TAG_NOW_NS = 20,
	TAG_WORKLOAD = 21,
	TAG_HOSTNAME = 22,
	TAG_BYTES = 23,
	TAG_GRACE_MS = 24,
	TAG_GROUPS = 25,
	TAG_HOLD_MS = 26,
};

/* LOG payload: fd byte, flags byte, then the line. */
#define LOG_FLAG_PARTIAL 0x01

struct frame_header {
	uint8_t type;
	uint32_t stream;
	uint32_t length;
};

enum header_status {
	HEADER_OK,
	HEADER_BAD_MAGIC,
	HEADER_BAD_VERSION,
	HEADER_BAD_TYPE,
	HEADER_TOO_LONG,
};

enum header_status frame_decode_header(const uint8_t *raw,
				       struct frame_header *out);
void frame_encode_header(uint8_t *raw, uint8_t type, uint32_t stream,
			 uint32_t length);
const char *frame_header_status_text(enum header_status status);

/* True for the types the host sends, which the agent accepts. */
int frame_type_from_host(uint8_t type);

/* True when the payload of this host type is a field list. */
int frame_type_has_fields(uint8_t type);

struct field {
	uint8_t tag;
	uint32_t length;
	const uint8_t *value;
};

struct field_reader {
	const uint8_t *next;
	size_t left;
};

void field_reader_init(struct field_reader *r, const uint8_t *payload,
		       size_t length);

/* 1 with a field in *out, 0 at the end, -1 when a field overruns. */
int field_reader_next(struct field_reader *r, struct field *out);

/* 0 when every field of the list lies inside it, else -1. */
int fields_well_formed(const uint8_t *payload, size_t length);

/*
 * Typed reads of one field. Each returns 0, or -1 after writing into
 * message (size bytes) what is wrong, naming the field.
 */
int field_check_int(const struct field *f, int64_t min, int64_t max,
		    int64_t *out, char *message, size_t size);
int field_check_flag(const struct field *f, int *out, char *message,
		     size_t size);
int field_check_string(const struct field *f, size_t max_bytes,
		       char *message, size_t size);
const char *field_name(uint8_t tag);

/* Appends fields to a caller's buffer; overflow sticks until checked. */
struct field_writer {
	uint8_t *buf;
	size_t capacity;
	size_t length;
	int overflow;
};

void field_writer_init(struct field_writer *w, uint8_t *buf,
		       size_t capacity);
void field_put_int(struct field_writer *w, uint8_t tag, int64_t value);
void field_put_bytes(struct field_writer *w, uint8_t tag, const void *p,
		     size_t length);
void field_put_string(struct field_writer *w, uint8_t tag, const char *s);

uint32_t frame_get_u32(const uint8_t *p);
void frame_put_u32(uint8_t *p, uint32_t value);

#endif
