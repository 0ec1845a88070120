/**
 * Parsers for option values. Each returns a typed value or throws
 * INVALID_ARGUMENT naming the option, the value and the expected form.
 */
import { AegisError } from '../errors.ts';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * `30s`, `5m`, `1h30m`, `500ms` in ms; `off` when allowed. (Commander
 * turns a parser's null into '', hence the string.)
 */
export function parseDuration(
  option: string,
  raw: string,
  allowOff: boolean,
): number | 'off' {
  if (allowOff && raw === 'off') return 'off';
  const parts = [...raw.matchAll(/([0-9]+)(ms|s|m|h|d)/g)];
  const joined = parts.map((part) => part[0]).join('');
  if (parts.length === 0 || joined !== raw) {
    const off = allowOff ? ', or off' : '';
    throw invalid(option, raw, `a duration such as 30s, 5m or 1h30m${off}`);
  }
  return parts.reduce(
    (total, part) => total + Number(part[1]) * UNIT_MS[part[2]!]!,
    0,
  );
}

/** A whole number within bounds. */
export function parseInteger(
  option: string,
  raw: string,
  min: number,
  max: number,
): number {
  const value = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : Number.NaN;
  if (value >= min && value <= max) return value;
  throw invalid(option, raw, `a whole number from ${min} to ${max}`);
}

/** MiB, as a plain number or with an `m`/`g` suffix (512, 512m, 2g). */
export function parseMemoryMib(
  option: string,
  raw: string,
  min: number,
  max: number,
): number {
  const match = /^([0-9]{1,7})([mMgG]?)$/.exec(raw);
  const scale = match?.[2]?.toLowerCase() === 'g' ? 1024 : 1;
  const mib = match ? Number(match[1]) * scale : Number.NaN;
  if (mib >= min && mib <= max) return mib;
  throw invalid(option, raw, `${min}-${max} MiB, e.g. 512, 512m or 2g`);
}

/** `KEY=VALUE`, with a non-empty key. */
export function parseEnv(option: string, raw: string): string {
  if (/^[^=\s]+=/.test(raw)) return raw;
  throw invalid(option, raw, 'KEY=VALUE, e.g. LOG_LEVEL=debug');
}

/** `UID` or `UID:GID`, numbers as the guest takes them. */
export function parseUser(
  option: string,
  raw: string,
): { uid: number; gid?: number } {
  const match = /^([0-9]{1,10})(?::([0-9]{1,10}))?$/.exec(raw);
  const max = 2 ** 32 - 2;
  const uid = Number(match?.[1]);
  const gid = match?.[2] === undefined ? undefined : Number(match[2]);
  if (match !== null && uid <= max && (gid ?? 0) <= max) return { uid, gid };
  throw invalid(option, raw, 'UID or UID:GID as numbers, e.g. 1000:1000');
}

/** Commander's reducer for an option given several times. */
export function collect<T>(parse: (raw: string) => T) {
  return (raw: string, previous: T[] | undefined): T[] => [
    ...(previous ?? []),
    parse(raw),
  ];
}

function invalid(option: string, raw: string, expected: string): AegisError {
  return new AegisError(
    'INVALID_ARGUMENT',
    `${option} "${raw}" is not valid; use ${expected}`,
  );
}
