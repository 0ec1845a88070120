/* Parsing START and EXEC fields into a spawn spec; see spec.h. */
#include "spec.h"

#include "frame.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 4294967294LL /* 2^32 - 2: -1 means "unchanged" to the kernel */

int spawn_error_set(struct spawn_error *err, int code, const char *format,
		    ...)
{
	va_list args;

	err->code = code;
	va_start(args, format);
	vsnprintf(err->message, sizeof(err->message), format, args);
	va_end(args);
	return -1;
}

struct spec_counts {
	size_t argc;
	size_t envc;
	size_t string_bytes;
};

static int check_list_item(const struct field *f, struct spec_counts *counts,
			   struct spawn_error *err)
{
	size_t *count = f->tag == TAG_ARGV ? &counts->argc : &counts->envc;

	if (field_check_string(f, SPAWN_ITEM_MAX_BYTES, err->message,
			       sizeof(err->message)) < 0)
		return -1;
	if (++*count > SPAWN_LIST_MAX)
		return spawn_error_set(err, EINVAL, "field %s: over %d items",
				       field_name(f->tag), SPAWN_LIST_MAX);
	if (f->tag == TAG_ENV && memchr(f->value, '=', f->length) == NULL)
		return spawn_error_set(err, EINVAL,
				       "field env: \"%.*s\" is not KEY=VALUE",
				       (int)(f->length > 64 ? 64 : f->length),
				       f->value);
	counts->string_bytes += f->length + 1;
	return 0;
}

static int check_string(const struct field *f, size_t max_bytes,
			struct spec_counts *counts, struct spawn_error *err)
{
	if (field_check_string(f, max_bytes, err->message,
			       sizeof(err->message)) < 0)
		return -1;
	counts->string_bytes += f->length + 1;
	return 0;
}

static int read_id(const struct field *f, int64_t *out,
		   struct spawn_error *err)
{
	return field_check_int(f, 0, ID_MAX, out, err->message,
			       sizeof(err->message));
}

static int read_size(const struct field *f, unsigned short *out,
		     struct spawn_error *err)
{
	int64_t value;

	if (field_check_int(f, 1, 65535, &value, err->message,
			    sizeof(err->message)) < 0)
		return -1;
	*out = (unsigned short)value;
	return 0;
}

/* First pass: validates one field, keeps scalars, counts the strings. */
static int check_field(struct spawn_spec *spec, const struct field *f,
		       struct spec_counts *counts, struct spawn_error *err)
{
	int64_t id;

	err->code = EINVAL;
	switch (f->tag) {
	case TAG_ARGV:
	case TAG_ENV:
		return check_list_item(f, counts, err);
	case TAG_CWD:
		return check_string(f, SPAWN_CWD_MAX_BYTES, counts, err);
	case TAG_HOSTNAME:
		return check_string(f, SPAWN_HOSTNAME_MAX_BYTES, counts, err);
	case TAG_UID:
		if (read_id(f, &id, err) < 0)
			return -1;
		spec->uid = (uid_t)id;
		return 0;
	case TAG_GID:
		if (read_id(f, &id, err) < 0)
			return -1;
		spec->gid = (gid_t)id;
		return 0;
	case TAG_GROUPS:
		if (read_id(f, &id, err) < 0)
			return -1;
		if (spec->group_count == SPAWN_GROUPS_MAX)
			return spawn_error_set(err, EINVAL,
					       "field groups: over %d items",
					       SPAWN_GROUPS_MAX);
		spec->groups[spec->group_count++] = (gid_t)id;
		return 0;
	case TAG_TTY:
		return field_check_flag(f, &spec->tty, err->message,
					sizeof(err->message));
	case TAG_STDIN:
		return field_check_flag(f, &spec->with_stdin, err->message,
					sizeof(err->message));
	case TAG_ROWS:
		return read_size(f, &spec->rows, err);
	case TAG_COLS:
		return read_size(f, &spec->cols, err);
	default:
		return 0; /* unknown tags are skipped (docs/protocol.md) */
	}
}

static char *copy_string(char **cursor, const struct field *f)
{
	char *copy = *cursor;

	memcpy(copy, f->value, f->length);
	copy[f->length] = '\0';
	*cursor += f->length + 1;
	return copy;
}

/* Second pass: copies the strings into the spec's storage. */
static void copy_strings(struct spawn_spec *spec, const uint8_t *payload,
			 size_t length, char *cursor)
{
	struct field_reader r;
	struct field f;
	size_t argc = 0, envc = 0;

	field_reader_init(&r, payload, length);
	while (field_reader_next(&r, &f) > 0) {
		if (f.tag == TAG_ARGV)
			spec->argv[argc++] = copy_string(&cursor, &f);
		else if (f.tag == TAG_ENV)
			spec->envp[envc++] = copy_string(&cursor, &f);
		else if (f.tag == TAG_CWD)
			spec->cwd = copy_string(&cursor, &f);
		else if (f.tag == TAG_HOSTNAME)
			spec->hostname = copy_string(&cursor, &f);
	}
	spec->argv[argc] = NULL;
	spec->envp[envc] = NULL;
}

int spawn_spec_parse(struct spawn_spec *spec, const uint8_t *payload,
		     size_t length, struct spawn_error *err)
{
	struct spec_counts counts = { 0, 0, 0 };
	struct field_reader r;
	struct field f;
	size_t pointer_bytes;
	int got;

	memset(spec, 0, sizeof(*spec));
	spec->cwd = "/";
	spec->rows = 24;
	spec->cols = 80;
	field_reader_init(&r, payload, length);
	while ((got = field_reader_next(&r, &f)) > 0)
		if (check_field(spec, &f, &counts, err) < 0)
			return -1;
	if (got < 0)
		return spawn_error_set(err, EINVAL, "a field overruns");
	if (counts.argc == 0)
		return spawn_error_set(err, EINVAL, "field argv is required");

	pointer_bytes = (counts.argc + counts.envc + 2) * sizeof(char *);
	spec->storage = malloc(pointer_bytes + counts.string_bytes);
	if (spec->storage == NULL)
		return spawn_error_set(err, ENOMEM, "no memory for argv");
	spec->argv = (char **)(void *)spec->storage;
	spec->envp = spec->argv + counts.argc + 1;
	copy_strings(spec, payload, length, spec->storage + pointer_bytes);
	return 0;
}

void spawn_spec_free(struct spawn_spec *spec)
{
	free(spec->storage);
	spec->storage = NULL;
}
