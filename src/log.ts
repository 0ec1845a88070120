import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The one structured logger. Components take a Logger and derive a child
 * with `log.child({ instance: id })`, so every line about an instance
 * carries its id. Lines go to stderr as JSON; AEGIS_LOG_LEVEL sets the
 * level (default `info`; tests use `silent` unless asked otherwise).
 */
export function createLogger(options: { level?: string } = {}): Logger {
  const level = options.level ?? process.env.AEGIS_LOG_LEVEL ?? 'info';
  return pino({ level, base: undefined }, pino.destination(2));
}

/** A logger that writes nothing, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
