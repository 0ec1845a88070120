import type { Socket } from 'node:net';
import { connectWithProbation } from './probation.ts';
import { type RetryOutcome, retryUntilDeadline } from './retry.ts';
import type { ListenerStats } from './stats.ts';
import type { RetryPolicy, RouteTarget } from './types.ts';

export interface TunnelContext {
  target: RouteTarget;
  policy: RetryPolicy;
  stats: ListenerStats;
}

/**
 * Wakes the target and opens a fresh upstream connection that has passed
 * its probation, retrying within the policy's bound. Nothing has been
 * written to the socket it returns.
 */
export function openTunnel(
  context: TunnelContext,
  signal: AbortSignal,
): Promise<RetryOutcome<Socket>> {
  const { policy, stats } = context;
  const attempt = async (
    address: { host: string; port: number },
    deadlineMs: number,
  ) => {
    try {
      const socket = await connectWithProbation({
        address,
        probationMs: policy.probationMs,
        deadlineMs,
        signal,
        allowHalfOpen: true,
      });
      stats.counters.upstreamConnects++;
      return { kind: 'done' as const, value: socket };
    } catch (error) {
      return { kind: 'retry' as const, error };
    }
  };

  return retryUntilDeadline(context.target, policy, signal, attempt, {
    onRetry: () => stats.counters.retries++,
  });
}

/** Counts and logs a tunnel that could not be opened; true if one was. */
export function noteTunnelOutcome(
  stats: ListenerStats,
  outcome: RetryOutcome<Socket>,
): outcome is { kind: 'done'; value: Socket } {
  if (outcome.kind === 'done') {
    stats.markReachable();
    return true;
  }
  if (outcome.kind === 'aborted') return false;
  if (outcome.kind === 'wake-failed') stats.counters.wakeFailures++;
  stats.counters.unavailable++;
  stats.markUnreachable(outcome.kind);
  return false;
}
