import { type buildConnector, Pool } from 'undici';
import { connectWithProbation } from './probation.ts';
import type { RetryPolicy, UpstreamAddress } from './types.ts';

/**
 * Keep-alive connection pools to one instance's upstream, one pool per
 * address that wake() has returned (a restore may move the forward).
 * Every fresh connection goes through the probation; a pooled connection
 * has already carried a response, so a guest process owns its far end and
 * it is used at once.
 */
export class UpstreamPools {
  readonly #policy: RetryPolicy;
  readonly #onConnect: () => void;
  readonly #pools = new Map<string, Pool>();
  readonly #headersTimeoutMs: number;

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
    const key = `${address.host}:${address.port}`;
    const existing = this.#pools.get(key);
    if (existing !== undefined) return existing;

    for (const pool of this.#pools.values()) void pool.close();
    this.#pools.clear();
    const pool = this.#createPool(address);
    this.#pools.set(key, pool);
    return pool;
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
    const { probationMs } = this.#policy;
    connectWithProbation({ address, probationMs, deadlineMs }).then(
      (socket) => {
        this.#onConnect();
        callback(null, socket);
      },
      (error: Error) => callback(error, null),
    );
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
