/**
 * Image store settings a user gives the daemon through its environment,
 * as Docker takes them from daemon.json: registries that may be reached
 * over plain HTTP, and the bounds on what an image may unpack to.
 */
import { AegisError } from '../errors.ts';
import type { UnpackLimits } from '../images/index.ts';

export interface ImageSettings {
  insecureRegistries: string[];
  limits: Partial<UnpackLimits>;
}

const REGISTRY =
  /^[a-zA-Z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](:[0-9]{1,5})?$/;

export function imageSettings(env: NodeJS.ProcessEnv): ImageSettings {
  const limits: { -readonly [K in keyof UnpackLimits]?: number } = {};
  const bytes = positive(env, 'AEGIS_MAX_UNPACKED_BYTES');
  if (bytes !== undefined) limits.maxUnpackedBytes = bytes;
  const entries = positive(env, 'AEGIS_MAX_LAYER_ENTRIES');
  if (entries !== undefined) limits.maxEntries = entries;
  return { insecureRegistries: registries(env), limits };
}

function registries(env: NodeJS.ProcessEnv): string[] {
  const raw = env.AEGIS_INSECURE_REGISTRIES ?? '';
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (REGISTRY.test(name)) continue;
    throw new AegisError(
      'INVALID_ARGUMENT',
      `AEGIS_INSECURE_REGISTRIES entry "${name}" is not a registry host; ` +
        'use HOST or HOST:PORT, separated by commas',
    );
  }
  return names;
}

function positive(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (value > 0 && Number.isSafeInteger(value)) return value;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `${name} "${raw}" is not valid; use a whole number above 0`,
  );
}
