import type { Socket } from 'node:net';
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

/** Idle connections kept per listener; more are closed when released. */
const MAX_IDLE = 256;

/**
 * An idle connection older than this is closed rather than reused: many
 * servers drop idle keep-alive connections after 5 s (Node's default),
 * and a request written as the server closes would be lost.
 */
const IDLE_REUSE_MS = 4_000;

/** What reads an upstream connection while it carries an exchange. */
export interface UpstreamUser {
  onUpstreamData(chunk: Buffer): void;
  /** The upstream sent its FIN. */
  onUpstreamEnd(): void;
  /** The connection closed or failed. */
  onUpstreamGone(): void;
}

/** One connection to the upstream, handed from exchange to exchange. */
export class UpstreamConnection {
  readonly socket: Socket;
  user: UpstreamUser | null = null;
  idleSinceMs = 0;

  constructor(socket: Socket, onIdleGone: (gone: UpstreamConnection) => void) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.user !== null) this.user.onUpstreamData(chunk);
      // Bytes on an idle connection answer nothing: it is out of step.
      else socket.destroy();
    });
    socket.on('end', () => this.user?.onUpstreamEnd());
    socket.on('close', () => {
      if (this.user !== null) this.user.onUpstreamGone();
      else onIdleGone(this);
    });
    // 'close' follows every error and is where it is handled.
    socket.on('error', () => {});
    socket.resume();
  }
}

/**
 * Keep-alive connections to one instance's upstream, for the address that
 * wake() returned last (a cold boot or a restore may move the forward).
 * A fresh connection goes through the probation until the upstream has
 * answered in the current epoch; a kept connection has already carried a
 * response, so a guest process owns its far end and it is used at once.
 */
export class UpstreamPool {
  readonly #policy: RetryPolicy;
  readonly #onConnect: () => void;
  readonly #gate = new Gate(MAX_CONNECTS_IN_FLIGHT);
  #address: UpstreamAddress | null = null;
  #idle: UpstreamConnection[] = [];
  #closed = false;
  /** The epoch in which the upstream last answered a request. */
  #answeredEpoch: string | undefined;

  constructor(policy: RetryPolicy, onConnect: () => void) {
    this.#policy = policy;
    this.#onConnect = onConnect;
  }

  /** A kept connection to `address`, if there is one fit for use. */
  takeIdle(address: UpstreamAddress): UpstreamConnection | undefined {
    this.#selectAddress(address);
    const staleMs = Date.now() - IDLE_REUSE_MS;
    for (;;) {
      const connection = this.#idle.pop();
      if (connection === undefined) return undefined;
      const { socket } = connection;
      // The upstream may have closed it a moment ago, its 'close' not
      // yet seen: writing to it would turn a sure answer into a 502.
      const open = socket.writable && !socket.readableEnded;
      if (open && connection.idleSinceMs >= staleMs) return connection;
      socket.destroy();
    }
  }

  /**
   * A kept connection, or a fresh one once it passed its probation.
   * Rejects when no connection could be had; nothing was written then.
   */
  async acquire(
    address: UpstreamAddress,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<UpstreamConnection> {
    const kept = this.takeIdle(address);
    if (kept !== undefined) return kept;

    const answered =
      address.epoch !== undefined && address.epoch === this.#answeredEpoch;
    const release = await this.#gate.acquire();
    let socket: Socket;
    try {
      socket = await connectWithProbation({
        address,
        probationMs: answered ? 0 : this.#policy.probationMs,
        deadlineMs,
        signal,
      });
    } catch (error) {
      release();
      throw error;
    }
    // Written at once, such a connection still holds its place until it
    // has proved itself, so that a burst reaches the guest's listen
    // backlog no faster than the guest answers.
    if (answered) releaseOnFirstByte(socket, FIRST_BYTE_HOLD_MS, release);
    else release();
    this.#onConnect();
    return new UpstreamConnection(socket, (gone) => this.#forget(gone));
  }

  /** Keeps a connection whose exchange ended cleanly for the next one. */
  release(connection: UpstreamConnection, address: UpstreamAddress): void {
    connection.user = null;
    const fits = !this.#closed && sameBoot(address, this.#address);
    if (!fits || this.#idle.length >= MAX_IDLE) {
      connection.socket.destroy();
      return;
    }
    connection.idleSinceMs = Date.now();
    this.#idle.push(connection);
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
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) connection.socket.destroy();
  }

  /** A new address or epoch is a new boot: kept connections are dead. */
  #selectAddress(address: UpstreamAddress): void {
    if (sameBoot(address, this.#address)) return;
    this.#address = address;
    for (const connection of this.#idle.splice(0)) connection.socket.destroy();
  }

  #forget(gone: UpstreamConnection): void {
    const at = this.#idle.indexOf(gone);
    if (at >= 0) this.#idle.splice(at, 1);
  }
}

function sameBoot(a: UpstreamAddress, b: UpstreamAddress | null): boolean {
  if (b === null) return false;
  return a.port === b.port && a.host === b.host && a.epoch === b.epoch;
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
  // Only watches: the UpstreamConnection's own listener reads the bytes.
  socket.on('data', done);
  socket.on('close', done);
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
