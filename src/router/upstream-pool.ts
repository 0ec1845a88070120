import type { Socket } from 'node:net';
import { type buildConnector, Pool } from 'undici';
import { connectWithProbation } from './probation.ts';
import type { RetryPolicy, UpstreamAddress } from './types.ts';

/**
 * Connection attempts under way to one upstream at most; more wait their
 * turn. QEMU's user-mode forward accepts from a tiny listen backlog, so a
 * burst of connects overflows it and the kernel drops SYNs, which costs
 * each a second-long retransmission. Measured with 200 requests at once
 * (a server that closes after each answer): 8 at a time answered all in
 * 1.2 s, 32 in 6.3 s, and no limit took 63 s and timed some out. Open
 * connections are not limited, so long streams do not block others.
 */
export const MAX_CONNECTS_IN_FLIGHT = 8;

/**
 * How long a connection written without probation keeps its place while
 * no answer came. Right after a restore the guest answers slowly (TCG
 * translates its code afresh), and releasing earlier overflowed the
 * backlog again.
 */
const FIRST_BYTE_HOLD_MS = 1_000;

/**
 * Keep-alive connection pools to one instance's upstream, one pool per
 * address that wake() has returned (a restore may move the forward).
 * A fresh connection goes through the probation until the upstream has
 * answered in the current epoch; a pooled connection has already carried
 * a response, so a guest process owns its far end and it is used at once.
 */
export class UpstreamPools {
  readonly #policy: RetryPolicy;
  readonly #onConnect: () => void;
  readonly #pools = new Map<string, Pool>();
  readonly #headersTimeoutMs: number;
  readonly #gate = new Gate(MAX_CONNECTS_IN_FLIGHT);
  /** The epoch in which the upstream last answered a request. */
  #answeredEpoch: string | undefined;

  constructor(
    policy: RetryPolicy,
    headersTimeoutMs: number,
    onConnect: () => void,
  ) {
    this.#policy = policy;
    this.#headersTimeoutMs = headersTimeoutMs;
    this.#onConnect = onConnect;
  }

  /** The pool for `address`; pools for older addresses are closed. */
  poolFor(address: UpstreamAddress): Pool {
    // A new epoch is a new boot: connections of the old one are dead.
    const key = `${address.host}:${address.port}:${address.epoch ?? ''}`;
    const existing = this.#pools.get(key);
    if (existing !== undefined) return existing;

    for (const pool of this.#pools.values()) void pool.close();
    this.#pools.clear();
    const pool = this.#createPool(address);
    this.#pools.set(key, pool);
    return pool;
  }

  /** A response came through: an app listens in this epoch. */
  markAnswered(address: UpstreamAddress): void {
    this.#answeredEpoch = address.epoch;
  }

  /** A request failed after it was written: probe fresh connections again. */
  markFailed(): void {
    this.#answeredEpoch = undefined;
  }

  async destroy(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.destroy()));
  }

  #createPool(address: UpstreamAddress): Pool {
    const origin = `http://${hostForUrl(address.host)}:${address.port}`;
    return new Pool(origin, {
      connect: (_options, callback) => this.#connect(address, callback),
      pipelining: 1,
      headersTimeout: this.#headersTimeoutMs,
      // Streams (SSE, long downloads) may pause for any length of time.
      bodyTimeout: 0,
    });
  }

  #connect(address: UpstreamAddress, callback: buildConnector.Callback): void {
    const deadlineMs = Date.now() + this.#policy.timeoutMs;
    const answered =
      address.epoch !== undefined && address.epoch === this.#answeredEpoch;
    const probationMs = answered ? 0 : this.#policy.probationMs;
    void this.#gate.acquire().then(async (release) => {
      let socket: Socket;
      try {
        socket = await connectWithProbation({
          address,
          probationMs,
          deadlineMs,
        });
      } catch (error) {
        release();
        callback(error as Error, null);
        return;
      }
      // Written at once, such a connection still holds its place until it
      // has proved itself, so that a burst reaches the guest's listen
      // backlog no faster than the guest answers.
      if (answered) releaseOnFirstByte(socket, FIRST_BYTE_HOLD_MS, release);
      else release();
      this.#onConnect();
      callback(null, socket);
    });
  }
}

/** Calls release at the first byte read, the close, or after capMs. */
function releaseOnFirstByte(
  socket: Socket,
  capMs: number,
  release: () => void,
): void {
  const done = (): void => {
    clearTimeout(timer);
    socket.off('data', done);
    socket.off('close', done);
    release();
  };
  const timer = setTimeout(done, capMs);
  // The socket is paused and undici reads it with read(): this listener
  // only watches; it does not make the socket flow.
  socket.on('data', done);
  socket.on('close', done);
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Lets at most `limit` holders in at once, the rest in arrival order. */
class Gate {
  #limit: number;
  #held = 0;
  #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Resolves with the function that gives the place up (once). */
  async acquire(): Promise<() => void> {
    if (this.#held >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#held++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next === undefined) this.#held--;
      else next();
    };
  }
}
