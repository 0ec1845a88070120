/**
 * The shapes of request bodies. Every object is strict: an unknown field
 * is refused, never ignored. Defaults come from defaults.ts.
 */
import { z } from 'zod';
import * as d from './defaults.ts';

function intIn(bounds: { min: number; max: number }) {
  const range = `must be a whole number from ${bounds.min} to ${bounds.max}`;
  return z
    .number({ error: range })
    .int({ error: range })
    .min(bounds.min, { error: range })
    .max(bounds.max, { error: range });
}

const text = z.string({ error: 'must be a string' }).max(d.MAX_STRING_CHARS, {
  error: `must be ${d.MAX_STRING_CHARS} characters or fewer`,
});

const argv = z
  .array(text, { error: 'must be an array of strings' })
  .max(d.MAX_LIST_ITEMS, {
    error: `must have ${d.MAX_LIST_ITEMS} items or fewer`,
  });

const envEntry = text.regex(/^[^=\s]+=/, {
  error: 'must be KEY=VALUE, with a non-empty KEY',
});

const idleStep = intIn(d.IDLE_MS_BOUNDS).nullable();

const OBJECT = { error: 'must be a JSON object' };

const retry = z.strictObject(
  {
    timeoutMs: intIn(d.RETRY_TIMEOUT_MS_BOUNDS).default(
      d.DEFAULT_RETRY.timeoutMs,
    ),
    initialBackoffMs: intIn(d.BACKOFF_MS_BOUNDS).default(
      d.DEFAULT_RETRY.initialBackoffMs,
    ),
    maxBackoffMs: intIn(d.BACKOFF_MS_BOUNDS).default(
      d.DEFAULT_RETRY.maxBackoffMs,
    ),
  },
  OBJECT,
);

const idle = z.strictObject(
  {
    pauseAfterMs: idleStep.default(d.DEFAULT_IDLE.pauseAfterMs),
    hibernateAfterMs: idleStep.default(d.DEFAULT_IDLE.hibernateAfterMs),
    wakeOnIngress: z
      .boolean({ error: 'must be true or false' })
      .default(d.DEFAULT_IDLE.wakeOnIngress),
  },
  OBJECT,
);

/** An expose given as an object; strings are parsed by parseExpose. */
export const ExposeObject = z.strictObject(
  {
    bindHost: text.default('127.0.0.1'),
    hostPort: intIn({ min: 1, max: 65535 }),
    guestPort: intIn({ min: 1, max: 65535 }),
    protocol: z
      .enum(['http', 'tcp'], { error: 'must be "http" or "tcp"' })
      .default('http'),
  },
  OBJECT,
);

export const CreateInstanceBody = z.strictObject(
  {
    name: text.nullable().default(null),
    image: text.min(1, { error: 'must name an image, e.g. alpine:3.20' }),
    entrypoint: argv
      .min(1, { error: 'must have at least one item, or be null' })
      .nullable()
      .default(null),
    cmd: argv.nullable().default(null),
    env: z.array(envEntry).max(d.MAX_LIST_ITEMS).default([]),
    memoryMib: intIn(d.MEMORY_MIB_BOUNDS).default(d.DEFAULT_MEMORY_MIB),
    cpus: intIn(d.CPUS_BOUNDS).default(d.DEFAULT_CPUS),
    exposes: z
      .array(z.unknown(), { error: 'must be an array of expose specs' })
      .max(d.MAX_EXPOSES, {
        error: `must have ${d.MAX_EXPOSES} items or fewer`,
      })
      .default([]),
    retry: retry.prefault({}),
    idle: idle.prefault({}),
    autoRemove: z.boolean({ error: 'must be true or false' }).default(false),
    start: z.boolean({ error: 'must be true or false' }).default(false),
  },
  OBJECT,
);
export type CreateInstanceBody = z.infer<typeof CreateInstanceBody>;

export const EmptyBody = z.strictObject({}, OBJECT);

export const StopBody = z.strictObject(
  {
    timeoutMs: intIn(d.STOP_TIMEOUT_MS_BOUNDS).default(
      d.DEFAULT_STOP_TIMEOUT_MS,
    ),
  },
  OBJECT,
);

export const ExecBody = z.strictObject(
  {
    argv: argv.min(1, { error: 'must name the program to run' }),
    env: z.array(envEntry).max(d.MAX_LIST_ITEMS).optional(),
    cwd: text.min(1).optional(),
    uid: intIn({ min: 0, max: 2 ** 32 - 2 }).optional(),
    gid: intIn({ min: 0, max: 2 ** 32 - 2 }).optional(),
    tty: z.boolean({ error: 'must be true or false' }).default(false),
    rows: intIn({ min: 1, max: 65535 }).optional(),
    cols: intIn({ min: 1, max: 65535 }).optional(),
    stdin: z.boolean({ error: 'must be true or false' }).default(false),
  },
  OBJECT,
);
export type ExecBody = z.infer<typeof ExecBody>;
