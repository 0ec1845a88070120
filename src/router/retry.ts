import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryPolicy, RouteTarget, UpstreamAddress } from './types.ts';

/** One try at the upstream; `retry` promises no byte reached the guest. */
export type AttemptResult<T> =
  | { kind: 'done'; value: T }
  | { kind: 'retry'; error: unknown };

export type Attempt<T> = (
  address: UpstreamAddress,
  deadlineMs: number,
) => Promise<AttemptResult<T>>;

/** Why the loop gave up without a result; every reason means "503". */
export type GiveUp =
  | { kind: 'wake-failed'; error: unknown }
  | { kind: 'timeout'; error: unknown }
  | { kind: 'aborted' };

export type RetryOutcome<T> = { kind: 'done'; value: T } | GiveUp;

export interface RetryHooks {
  onRetry(): void;
}

/**
 * Wakes the target and runs attempts until one is done, the deadline passes
 * or the signal aborts. The pause between attempts starts short and doubles,
 * because the common wait (an app about to bind its port) is short, while a
 * long fixed back-off would add its whole length to every cold start.
 */
export async function retryUntilDeadline<T>(
  target: RouteTarget,
  policy: RetryPolicy,
  signal: AbortSignal,
  attempt: Attempt<T>,
  hooks: RetryHooks,
): Promise<RetryOutcome<T>> {
  const deadlineMs = Date.now() + policy.timeoutMs;
  let backoffMs = policy.initialBackoffMs;
  let lastError: unknown;

  for (;;) {
    if (signal.aborted) return { kind: 'aborted' };

    const woken = await wakeBefore(target, deadlineMs);
    if (woken.kind !== 'done') return woken;
    if (signal.aborted) return { kind: 'aborted' };

    const result = await attempt(woken.value, deadlineMs);
    if (result.kind === 'done') return result;
    lastError = result.error;

    const pauseMs = Math.min(backoffMs, deadlineMs - Date.now());
    if (pauseMs <= 0) return { kind: 'timeout', error: lastError };
    hooks.onRetry();
    if (!(await pause(pauseMs, signal))) return { kind: 'aborted' };
    backoffMs = Math.min(backoffMs * 2, policy.maxBackoffMs);
  }
}

async function wakeBefore(
  target: RouteTarget,
  deadlineMs: number,
): Promise<RetryOutcome<UpstreamAddress>> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(
      resolve,
      Math.max(0, deadlineMs - Date.now()),
      'expired',
    );
  });

  try {
    const value = await Promise.race([target.wake(), expired]);
    if (value === 'expired') {
      const error = new Error('wake did not finish before the deadline');
      return { kind: 'timeout', error };
    }
    return { kind: 'done', value };
  } catch (error) {
    return { kind: 'wake-failed', error };
  } finally {
    clearTimeout(timer);
  }
}

async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
