/*
 * Diagnostics on the VM console, one line each, prefixed "aegis-agent: ".
 * The console is a slow serial port that every boot writes to, so the
 * agent says little unless aegis.debug=1 is on the kernel command line.
 */
#ifndef AEGIS_DIAG_H
#define AEGIS_DIAG_H

#include <stdint.h>

void diag_open_console(void);
void diag_enable_debug(void);
int diag_debug_enabled(void);

void diag(const char *format, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_BOOTTIME: the clock the protocol's *_ns timestamps use. */
int64_t clock_boot_ns(void);

/* CLOCK_MONOTONIC in milliseconds, for the agent's own timeouts. */
int64_t clock_mono_ms(void);

#endif
