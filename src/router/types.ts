/** Where the router sends a connection: normally QEMU's user-mode forward. */
export interface UpstreamAddress {
  host: string;
  port: number;
  /**
   * Names the guest boot behind this address: it changes at every cold
   * boot, not at a resume or a restore, which bring back the same memory
   * and so the same listening app. Once a response has come through in
   * an epoch, fresh connections in it skip the probation.
   */
  epoch?: string;
}

/**
 * What the daemon implements for each instance. The router holds no other
 * knowledge of the instance: it never looks at guest ports and never waits
 * for readiness, it only wakes the VM and tries to connect.
 */
export interface RouteTarget {
  instanceId: string;
  /**
   * Makes the instance able to take connections (resumes a paused or
   * hibernated VM, waiting only for the VM, never for the app) and returns
   * the upstream address; rejects with an AegisError when it cannot (for
   * example, the instance is stopped). Called before every upstream
   * attempt, so it must be cheap when the VM is running.
   */
  wake(): Promise<UpstreamAddress>;
  /**
   * The address at once when the VM runs and nothing stands in the way,
   * else undefined (then wake() is called). Lets a request on a running
   * instance skip the wake's promise and timers.
   */
  ready?(): UpstreamAddress | undefined;
  /**
   * Activity accounting for idle policies: `open` when an HTTP request, an
   * upgraded HTTP connection or a TCP connection starts, `close` when it
   * ends. Idle keep-alive client connections do not count as activity.
   */
  onActivity?(event: 'open' | 'close'): void;
}

/** How long and how often to try the upstream before giving up. */
export interface RetryPolicy {
  /** Bound on wake plus connection attempts, from the client's arrival. */
  timeoutMs: number;
  /** First pause after a failed attempt; doubles up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * How long a fresh upstream connection must survive before the router
   * writes to it. QEMU's forward accepts at once and resets a few ms later
   * when no guest process listens; a reset inside this window proves no
   * byte reached the guest, so the attempt is retried.
   */
  probationMs: number;
}

export type RouterProtocol = 'http' | 'tcp';

export interface ListenOptions {
  bindHost: string;
  /** 0 picks a free port (tests); read the result from `address`. */
  hostPort: number;
  protocol: RouterProtocol;
  target: RouteTarget;
  retry?: Partial<RetryPolicy>;
  /**
   * HTTP only: how long an upstream that took the request may take to
   * start its response before the client gets 504. 0 disables the limit.
   */
  responseHeaderTimeoutMs?: number;
  /**
   * TCP only: the splice(2) relay to hand connections to. By default the
   * one the set-up built, if any; false relays in this process.
   */
  nativeRelay?: string | false;
}

/** Monotonic counts per listener; the router logs no per-request lines. */
export interface RouterCounters {
  /** Client TCP connections accepted (both protocols). */
  connections: number;
  /** HTTP requests received, upgrades included. */
  requests: number;
  upgrades: number;
  /** Requests or connections in progress right now. */
  active: number;
  /** Fresh upstream connections handed over after their probation. */
  upstreamConnects: number;
  /** Failed attempts that were retried (refused, reset in probation). */
  retries: number;
  wakeFailures: number;
  /** Answers the router made itself, by status; `closed` is TCP's 503. */
  badGateway: number;
  unavailable: number;
  gatewayTimeout: number;
  /** Clients that left before the exchange finished. */
  clientAborts: number;
}
