import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { AegisError } from '../errors.ts';
import { MAX_PAYLOAD_BYTES } from './frame.ts';
import type { ExitStatus } from './messages.ts';

/** What a session needs from the channel that carries it. */
export interface SessionTransport {
  sendStdin(stream: number, data: Buffer): boolean;
  sendResize(stream: number, rows: number, cols: number): void;
  sendSignal(stream: number, signal: number): void;
}

/** Bytes of stdin the host may send before the agent returns credit. */
export const STDIN_WINDOW_BYTES = 256 * 1024;

/**
 * One process run in the guest with exec. Output arrives on `stdout` and
 * `stderr` (a terminal session writes everything to `stdout`); `exited`
 * settles after both have ended.
 */
export class ExecSession extends EventEmitter {
  readonly stream: number;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly started: Promise<number>;
  readonly exited: Promise<ExitStatus>;
  #transport: SessionTransport;
  #creditBytes = STDIN_WINDOW_BYTES;
  #creditWaiters: (() => void)[] = [];
  #settleStarted!: { resolve(pid: number): void; reject(e: Error): void };
  #settleExited!: { resolve(s: ExitStatus): void; reject(e: Error): void };
  #done = false;
  #started = false;

  constructor(stream: number, transport: SessionTransport) {
    super();
    this.stream = stream;
    this.#transport = transport;
    this.started = new Promise((resolve, reject) => {
      this.#settleStarted = { resolve, reject };
    });
    this.exited = new Promise((resolve, reject) => {
      this.#settleExited = { resolve, reject };
    });
    // Callers may await only one of the two; keep the other from being
    // reported as an unhandled rejection.
    this.started.catch(() => {});
    this.exited.catch(() => {});
  }

  get done(): boolean {
    return this.#done;
  }

  /** True once the agent has answered STARTED. */
  get hasStarted(): boolean {
    return this.#started;
  }

  /** Sends input, waiting for the agent's credit when the window is full. */
  async write(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length; ) {
      if (this.#done) throw sessionClosed(this.stream);
      if (this.#creditBytes <= 0) {
        await new Promise<void>((resolve) => this.#creditWaiters.push(resolve));
        continue;
      }
      const size = Math.min(
        data.length - at,
        MAX_PAYLOAD_BYTES,
        this.#creditBytes,
      );
      this.#creditBytes -= size;
      this.#transport.sendStdin(this.stream, data.subarray(at, at + size));
      at += size;
    }
  }

  /** Closes the process's standard input. */
  end(): void {
    if (!this.#done) this.#transport.sendStdin(this.stream, Buffer.alloc(0));
  }

  resize(rows: number, cols: number): void {
    if (!this.#done) this.#transport.sendResize(this.stream, rows, cols);
  }

  signal(signal: number): void {
    if (!this.#done) this.#transport.sendSignal(this.stream, signal);
  }

  // Called by the channel.

  onStarted(pid: number): void {
    this.#started = true;
    this.#settleStarted.resolve(pid);
  }

  onOutput(fd: 'stdout' | 'stderr', data: Buffer): boolean {
    const target = fd === 'stdout' ? this.stdout : this.stderr;
    if (data.length === 0) {
      target.end();
      return true;
    }
    return target.write(data);
  }

  onWindow(bytes: number): void {
    this.#creditBytes = Math.min(STDIN_WINDOW_BYTES, this.#creditBytes + bytes);
    for (const wake of this.#creditWaiters.splice(0)) wake();
  }

  onExit(status: ExitStatus): void {
    this.#finish();
    this.#settleStarted.reject(new AegisError('INTERNAL', 'exited early'));
    this.#settleExited.resolve(status);
  }

  onError(error: Error): void {
    this.#finish();
    this.#settleStarted.reject(error);
    this.#settleExited.reject(error);
  }

  #finish(): void {
    this.#done = true;
    this.stdout.end();
    this.stderr.end();
    for (const wake of this.#creditWaiters.splice(0)) wake();
  }
}

function sessionClosed(stream: number): AegisError {
  return new AegisError(
    'GUEST_ERROR',
    `exec session ${stream} has ended; its input is closed`,
  );
}
