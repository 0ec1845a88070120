/* Console diagnostics and clocks; see diag.h. */
#include "diag.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define DIAG_LINE_BYTES 512

static int console_fd = 2;
static int debug_on;

void diag_open_console(void)
{
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd >= 0)
		console_fd = fd;
}

void diag_enable_debug(void)
{
	debug_on = 1;
}

int diag_debug_enabled(void)
{
	return debug_on;
}

static void write_line(const char *format, va_list args)
{
	char line[DIAG_LINE_BYTES];
	int prefix = snprintf(line, sizeof(line), "aegis-agent: ");
	int length;
	ssize_t written;

	length = vsnprintf(line + prefix, sizeof(line) - prefix - 1, format,
			   args);
	if (length < 0)
		return;
	length += prefix;
	if (length > (int)sizeof(line) - 2)
		length = (int)sizeof(line) - 2;
	line[length++] = '\n';

	do
		written = write(console_fd, line, (size_t)length);
	while (written < 0 && errno == EINTR);
}

void diag(const char *format, ...)
{
	va_list args;
	int saved_errno = errno;

	va_start(args, format);
	write_line(format, args);
	va_end(args);
	errno = saved_errno;
}

void debug(const char *format, ...)
{
	va_list args;
	int saved_errno = errno;

	if (!debug_on)
		return;
	va_start(args, format);
	write_line(format, args);
	va_end(args);
	errno = saved_errno;
}

static int64_t read_clock_ns(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int64_t clock_boot_ns(void)
{
	return read_clock_ns(CLOCK_BOOTTIME);
}

int64_t clock_mono_ms(void)
{
	return read_clock_ns(CLOCK_MONOTONIC) / 1000000;
}
