/**
 * Defaults and bounds of every instance setting, in one place. The API
 * applies them; the CLI and docs/openapi.yaml show them.
 */
import type { IdlePolicy, RetryPolicy } from '../model.ts';

export const DEFAULT_MEMORY_MIB = 128;
export const MEMORY_MIB_BOUNDS = { min: 64, max: 65536 } as const;

export const DEFAULT_CPUS = 1;
export const CPUS_BOUNDS = { min: 1, max: 16 } as const;

export const DEFAULT_RETRY: Readonly<RetryPolicy> = {
  timeoutMs: 5_000,
  initialBackoffMs: 10,
  maxBackoffMs: 250,
};
export const RETRY_TIMEOUT_MS_BOUNDS = { min: 1, max: 300_000 } as const;
export const BACKOFF_MS_BOUNDS = { min: 1, max: 60_000 } as const;

export const DEFAULT_IDLE: Readonly<IdlePolicy> = {
  pauseAfterMs: 60_000,
  hibernateAfterMs: 300_000,
  wakeOnIngress: true,
};
/** Idle steps: at least a second, at most thirty days. */
export const IDLE_MS_BOUNDS = { min: 1_000, max: 30 * 24 * 3_600_000 } as const;

/** How long stop and restart wait for the workload before killing it. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
export const STOP_TIMEOUT_MS_BOUNDS = { min: 0, max: 3_600_000 } as const;

/** Limits that keep one request small. */
export const MAX_EXPOSES = 64;
export const MAX_LIST_ITEMS = 4_096;
export const MAX_STRING_CHARS = 4_096;
export const MAX_BODY_BYTES = 1024 * 1024;
