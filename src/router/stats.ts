import type { Logger } from '../log.ts';
import type { RouterCounters } from './types.ts';

type UpstreamState = 'unknown' | 'reachable' | 'unreachable';

/**
 * Counters for one listener, plus the one piece of state worth a log line:
 * whether the upstream is reachable. Lines are written on transitions only,
 * so a client or a guest cannot make the router log once per request.
 */
export class ListenerStats {
  readonly counters: RouterCounters = {
    connections: 0,
    requests: 0,
    upgrades: 0,
    active: 0,
    upstreamConnects: 0,
    retries: 0,
    wakeFailures: 0,
    badGateway: 0,
    unavailable: 0,
    gatewayTimeout: 0,
    clientAborts: 0,
  };
  readonly #log: Logger;
  #upstream: UpstreamState = 'unknown';

  constructor(log: Logger) {
    this.#log = log;
  }

  markReachable(): void {
    if (this.#upstream === 'reachable') return;
    this.#upstream = 'reachable';
    this.#log.info('upstream reachable');
  }

  markUnreachable(reason: string): void {
    if (this.#upstream === 'unreachable') return;
    this.#upstream = 'unreachable';
    this.#log.warn({ reason }, 'upstream unreachable; answering 503');
  }
}
