import { AegisError } from '../errors.ts';
import { findNativeRelay } from './native-relay.ts';
import type { ListenOptions, RetryPolicy, RouterProtocol } from './types.ts';

export const DEFAULT_RETRY: Readonly<RetryPolicy> = {
  timeoutMs: 5_000,
  initialBackoffMs: 10,
  maxBackoffMs: 250,
  // QEMU's forward resets 2–20 ms after accepting when nothing listens.
  probationMs: 30,
};

/** Generous: agent workloads may think for minutes before answering. */
export const DEFAULT_RESPONSE_HEADER_TIMEOUT_MS = 300_000;

export interface ParsedListenOptions
  extends Required<Omit<ListenOptions, 'nativeRelay'>> {
  retry: RetryPolicy;
  nativeRelay: string | undefined;
}

/** Validates listen options at the edge and fills in the defaults. */
export function parseListenOptions(raw: ListenOptions): ParsedListenOptions {
  const protocol = parseProtocol(raw.protocol);
  const retry = { ...DEFAULT_RETRY, ...raw.retry };

  checkInteger('hostPort', raw.hostPort, 0, 65_535);
  checkInteger('retry.timeoutMs', retry.timeoutMs, 1);
  checkInteger('retry.initialBackoffMs', retry.initialBackoffMs, 1);
  checkInteger('retry.maxBackoffMs', retry.maxBackoffMs, 1);
  checkInteger('retry.probationMs', retry.probationMs, 0);
  if (typeof raw.bindHost !== 'string' || raw.bindHost === '') {
    throw invalid('bindHost', raw.bindHost);
  }
  if (typeof raw.target?.wake !== 'function') {
    throw invalid('target', raw.target);
  }

  const responseHeaderTimeoutMs =
    raw.responseHeaderTimeoutMs ?? DEFAULT_RESPONSE_HEADER_TIMEOUT_MS;
  checkInteger('responseHeaderTimeoutMs', responseHeaderTimeoutMs, 0);

  const nativeRelay =
    protocol !== 'tcp' || raw.nativeRelay === false
      ? undefined
      : (raw.nativeRelay ?? findNativeRelay());

  return { ...raw, protocol, retry, responseHeaderTimeoutMs, nativeRelay };
}

function parseProtocol(value: unknown): RouterProtocol {
  if (value === 'http' || value === 'tcp') return value;
  throw invalid('protocol', value, "use 'http' or 'tcp'");
}

function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (Number.isInteger(value) && (value as number) >= min) {
    if ((value as number) <= max) return;
  }
  throw invalid(name, value, `use an integer from ${min} to ${max}`);
}

function invalid(name: string, value: unknown, hint = ''): AegisError {
  const shown = typeof value === 'object' ? typeof value : String(value);
  const message = `router option ${name} is invalid: ${shown}`;
  return new AegisError(
    'INVALID_ARGUMENT',
    hint ? `${message}; ${hint}` : message,
  );
}
