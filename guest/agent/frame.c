/* The control channel's wire format (docs/protocol.md, "Frames"). */
#include "frame.h"

#include <stdio.h>
#include <string.h>

uint32_t frame_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void frame_put_u32(uint8_t *p, uint32_t value)
{
	p[0] = (uint8_t)(value >> 24);
	p[1] = (uint8_t)(value >> 16);
	p[2] = (uint8_t)(value >> 8);
	p[3] = (uint8_t)value;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)frame_get_u32(p) << 32 | frame_get_u32(p + 4);
}

static void put_u64(uint8_t *p, uint64_t value)
{
	frame_put_u32(p, (uint32_t)(value >> 32));
	frame_put_u32(p + 4, (uint32_t)value);
}

int frame_type_from_host(uint8_t type)
{
	return type >= MSG_HELLO_REQ && type <= MSG_PING;
}

int frame_type_has_fields(uint8_t type)
{
	switch (type) {
	case MSG_START:
	case MSG_EXEC:
	case MSG_RESIZE:
	case MSG_SIGNAL:
	case MSG_SET_CLOCK:
	case MSG_SHUTDOWN:
		return 1;
	default:
		return 0;
	}
}

enum header_status frame_decode_header(const uint8_t *raw,
				       struct frame_header *out)
{
	if (raw[0] != FRAME_MAGIC_0 || raw[1] != FRAME_MAGIC_1)
		return HEADER_BAD_MAGIC;
	if (raw[2] != FRAME_VERSION)
		return HEADER_BAD_VERSION;
	if (!frame_type_from_host(raw[3]))
		return HEADER_BAD_TYPE;

	out->type = raw[3];
	out->stream = frame_get_u32(raw + 4);
	out->length = frame_get_u32(raw + 8);
	if (out->length > FRAME_PAYLOAD_MAX)
		return HEADER_TOO_LONG;
	return HEADER_OK;
}

void frame_encode_header(uint8_t *raw, uint8_t type, uint32_t stream,
			 uint32_t length)
{
	raw[0] = FRAME_MAGIC_0;
	raw[1] = FRAME_MAGIC_1;
	raw[2] = FRAME_VERSION;
	raw[3] = type;
	frame_put_u32(raw + 4, stream);
	frame_put_u32(raw + 8, length);
}

const char *frame_header_status_text(enum header_status status)
{
	switch (status) {
	case HEADER_OK:
		return "ok";
	case HEADER_BAD_MAGIC:
		return "bad magic";
	case HEADER_BAD_VERSION:
		return "unsupported version";
	case HEADER_BAD_TYPE:
		return "unknown frame type";
	case HEADER_TOO_LONG:
		return "payload longer than 65536 bytes";
	}
	return "invalid header";
}

void field_reader_init(struct field_reader *r, const uint8_t *payload,
		       size_t length)
{
	r->next = payload;
	r->left = length;
}

int field_reader_next(struct field_reader *r, struct field *out)
{
	if (r->left == 0)
		return 0;
	if (r->left < FIELD_HEADER_BYTES)
		return -1;

	out->tag = r->next[0];
	out->length = frame_get_u32(r->next + 1);
	if (out->length > r->left - FIELD_HEADER_BYTES)
		return -1;

	out->value = r->next + FIELD_HEADER_BYTES;
	r->next += FIELD_HEADER_BYTES + out->length;
	r->left -= FIELD_HEADER_BYTES + out->length;
	return 1;
}

int fields_well_formed(const uint8_t *payload, size_t length)
{
	struct field_reader r;
	struct field f;
	int got;

	field_reader_init(&r, payload, length);
	while ((got = field_reader_next(&r, &f)) > 0)
		;
	return got;
}

int field_check_int(const struct field *f, int64_t min, int64_t max,
		    int64_t *out, char *message, size_t size)
{
	int64_t value;

	if (f->length != 8) {
		snprintf(message, size, "field %s: an integer is 8 bytes, "
			 "got %u", field_name(f->tag), (unsigned)f->length);
		return -1;
	}
	value = (int64_t)get_u64(f->value);
	if (value < min || value > max) {
		snprintf(message, size, "field %s: %lld is outside %lld..%lld",
			 field_name(f->tag), (long long)value, (long long)min,
			 (long long)max);
		return -1;
	}
	*out = value;
	return 0;
}

int field_check_flag(const struct field *f, int *out, char *message,
		     size_t size)
{
	if (f->length != 1 || f->value[0] > 1) {
		snprintf(message, size, "field %s: a flag is one byte, 0 or 1",
			 field_name(f->tag));
		return -1;
	}
	*out = f->value[0];
	return 0;
}

int field_check_string(const struct field *f, size_t max_bytes,
		       char *message, size_t size)
{
	if (f->length > max_bytes) {
		snprintf(message, size, "field %s: %u bytes, more than %zu",
			 field_name(f->tag), (unsigned)f->length, max_bytes);
		return -1;
	}
	if (memchr(f->value, 0, f->length) != NULL) {
		snprintf(message, size, "field %s: contains a NUL byte",
			 field_name(f->tag));
		return -1;
	}
	return 0;
}

const char *field_name(uint8_t tag)
{
	static const char *const names[] = {
		[TAG_ARGV] = "argv",
		[TAG_ENV] = "env",
		[TAG_CWD] = "cwd",
		[TAG_UID] = "uid",
		[TAG_GID] = "gid",
		[TAG_TTY] = "tty",
		[TAG_ROWS] = "rows",
		[TAG_COLS] = "cols",
		[TAG_STDIN] = "stdin",
		[TAG_SIGNAL] = "signal",
		[TAG_PID] = "pid",
		[TAG_EXIT_CODE] = "exit_code",
		[TAG_REALTIME_NS] = "realtime_ns",
		[TAG_ERRNO] = "errno",
		[TAG_MESSAGE] = "message",
		[TAG_AGENT_VERSION] = "agent_version",
		[TAG_PROTOCOL] = "protocol",
		[TAG_BOOT_NS] = "boot_ns",
		[TAG_ROOT_READY_NS] = "root_ready_ns",
		[TAG_NOW_NS] = "now_ns",
		[TAG_WORKLOAD] = "workload",
		[TAG_HOSTNAME] = "hostname",
		[TAG_BYTES] = "bytes",
		[TAG_GRACE_MS] = "grace_ms",
		[TAG_GROUPS] = "groups",
		[TAG_HOLD_MS] = "hold_ms",
	};

	if (tag < sizeof(names) / sizeof(names[0]) && names[tag] != NULL)
		return names[tag];
	return "unknown";
}

void field_writer_init(struct field_writer *w, uint8_t *buf,
		       size_t capacity)
{
	w->buf = buf;
	w->capacity = capacity;
	w->length = 0;
	w->overflow = 0;
}

/* Reserves room for one field and writes its header; NULL on overflow. */
static uint8_t *reserve_field(struct field_writer *w, uint8_t tag,
			      size_t length)
{
	uint8_t *field;

	if (w->overflow || length > UINT32_MAX ||
	    w->capacity - w->length < FIELD_HEADER_BYTES + length) {
		w->overflow = 1;
		return NULL;
	}
	field = w->buf + w->length;
	field[0] = tag;
	frame_put_u32(field + 1, (uint32_t)length);
	w->length += FIELD_HEADER_BYTES + length;
	return field + FIELD_HEADER_BYTES;
}

void field_put_int(struct field_writer *w, uint8_t tag, int64_t value)
{
	uint8_t *p = reserve_field(w, tag, 8);

	if (p != NULL)
		put_u64(p, (uint64_t)value);
}

void field_put_bytes(struct field_writer *w, uint8_t tag, const void *p,
		     size_t length)
{
	uint8_t *dest = reserve_field(w, tag, length);

	if (dest != NULL && length > 0)
		memcpy(dest, p, length);
}

void field_put_string(struct field_writer *w, uint8_t tag, const char *s)
{
	field_put_bytes(w, tag, s, strlen(s));
}
