import type { ListenerStats } from './stats.ts';
import type { RouteTarget } from './types.ts';

/**
 * Marks one request or connection as active until the returned function is
 * called; calling it again does nothing, so every exit path may call it.
 */
export function beginActivity(
  target: RouteTarget,
  stats: ListenerStats,
): () => void {
  let ended = false;
  stats.counters.active++;
  target.onActivity?.('open');
  return () => {
    if (ended) return;
    ended = true;
    stats.counters.active--;
    target.onActivity?.('close');
  };
}
