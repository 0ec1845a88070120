/**
 * The options that configure a new instance, shared by `instance start`
 * and `run`, and their translation into the API's create body.
 */
import type { Command } from 'commander';
import * as defaults from '../../daemon/api/defaults.ts';
import type { CreateBody } from '../../daemon/client.ts';
import {
  checkExposes,
  formatExpose,
  parseExpose,
} from '../../daemon/expose.ts';
import type { Expose } from '../../daemon/model.ts';
import { checkName } from '../../daemon/names.ts';
import {
  collect,
  parseDuration,
  parseEnv,
  parseInteger,
  parseMemoryMib,
} from '../parse.ts';

export interface CreateOptions {
  name?: string;
  expose?: Expose[];
  env?: string[];
  entrypoint?: string;
  memory?: number;
  cpus?: number;
  idlePause?: number | 'off';
  idleHibernate?: number | 'off';
  retryTimeout?: number | 'off';
  wake: boolean;
}

/** The options that only make sense when an instance is created. */
export const CREATION_OPTIONS = [
  'expose',
  'env',
  'entrypoint',
  'memory',
  'cpus',
  'idlePause',
  'idleHibernate',
  'retryTimeout',
  'wake',
] as const;

export function addCreateOptions(command: Command): Command {
  const { min, max } = defaults.MEMORY_MIB_BOUNDS;
  return command
    .option(
      '--name <name>',
      'name of the instance (default: generated)',
      (raw) => checkName(raw),
    )
    .option(
      '--expose <spec>',
      'forward a host port: [IP:]HOST:GUEST[/http|/tcp], IP defaulting ' +
        'to 127.0.0.1 (repeatable)',
      collect(parseExpose),
    )
    .option(
      '-e, --env <KEY=VALUE>',
      'set an environment variable (repeatable)',
      collect((raw) => parseEnv('--env', raw)),
    )
    .option('--entrypoint <path>', "replace the image's entrypoint")
    .option(
      '--memory <MiB>',
      `memory, ${min}-${max} MiB (default: ${defaults.DEFAULT_MEMORY_MIB})`,
      (raw) => parseMemoryMib('--memory', raw, min, max),
    )
    .option(
      '--cpus <n>',
      `virtual CPUs (default: ${defaults.DEFAULT_CPUS})`,
      (raw) =>
        parseInteger(
          '--cpus',
          raw,
          defaults.CPUS_BOUNDS.min,
          defaults.CPUS_BOUNDS.max,
        ),
    )
    .option(
      '--idle-pause <duration>',
      `pause after this long without activity, or off (default: 60s)`,
      (raw) => parseDuration('--idle-pause', raw, true),
    )
    .option(
      '--idle-hibernate <duration>',
      'hibernate this long after pausing (after the last activity when ' +
        'pausing is off), or off (default: 5m)',
      (raw) => parseDuration('--idle-hibernate', raw, true),
    )
    .option(
      '--retry-timeout <duration>',
      'how long ingress retries a guest port that does not answer, ' +
        'before a 503 (default: 5s)',
      (raw) => parseDuration('--retry-timeout', raw, false),
    )
    .option('--no-wake', 'do not wake a paused instance on ingress');
}

/** Which creation options the user gave on the command line. */
export function givenCreationOptions(command: Command): string[] {
  return CREATION_OPTIONS.filter(
    (key) => command.getOptionValueSource(key) === 'cli',
  );
}

export function createBody(
  options: CreateOptions,
  image: string,
  cmd: string[] | null,
): CreateBody {
  const body: CreateBody = { image, name: options.name ?? null, cmd };
  if (options.entrypoint !== undefined) body.entrypoint = [options.entrypoint];
  if (options.env) body.env = options.env;
  if (options.memory !== undefined) body.memoryMib = options.memory;
  if (options.cpus !== undefined) body.cpus = options.cpus;
  body.exposes = checkExposes(options.expose ?? []).map(formatExpose);
  body.idle = idleOf(options);
  if (options.retryTimeout !== undefined) {
    body.retry = { timeoutMs: msOrNull(options.retryTimeout) };
  }
  return body;
}

function idleOf(options: CreateOptions): Record<string, unknown> {
  const idle: Record<string, unknown> = { wakeOnIngress: options.wake };
  if (options.idlePause !== undefined) {
    idle.pauseAfterMs = msOrNull(options.idlePause);
  }
  if (options.idleHibernate !== undefined) {
    idle.hibernateAfterMs = msOrNull(options.idleHibernate);
  }
  return idle;
}

function msOrNull(duration: number | 'off'): number | null {
  return duration === 'off' ? null : duration;
}
