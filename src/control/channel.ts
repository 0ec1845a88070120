import { EventEmitter } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AegisError, describeError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { ExecSession, type SessionTransport } from './exec-session.ts';
import { FrameDecoder } from './frame.ts';
import {
  type ExecSpec,
  type ExitStatus,
  execRequest,
  type GuestMessage,
  helloRequest,
  type ProcessSpec,
  parseGuestMessage,
  pingRequest,
  resizeRequest,
  setClockRequest,
  shutdownRequest,
  signalRequest,
  startRequest,
  stdinData,
} from './messages.ts';

export type Hello = Extract<GuestMessage, { kind: 'hello' }>;

export interface LogRecord {
  fd: 'stdout' | 'stderr';
  /** The line without its newline; a long line comes in several parts. */
  line: Buffer;
  /** True when the line continues in the next record. */
  partial: boolean;
}

export interface ControlChannelEvents {
  hello: [Hello];
  log: [LogRecord];
  'workload-exit': [ExitStatus];
  /**
   * The workload asks to stay awake for holdMs from now (0: no lease).
   * The guest sends it only when the hold changes; the deadline is the
   * host's to keep. A new connection's HELLO carries the hold as well.
   */
  lease: [holdMs: number];
  'protocol-error': [Error];
}

const RECONNECT_MIN_MS = 20;
const RECONNECT_MAX_MS = 1_000;
const MAX_STREAM_ID = 0x7fff_ffff;

type Pending = { resolve(): void; reject(error: Error): void };

/**
 * The host's end of the control channel to one guest agent. It connects
 * to the unix socket QEMU serves, says HELLO_REQ on every (re)connection,
 * and reconnects after a protocol error or a lost connection until it is
 * closed. Anything malformed from the guest is counted and reported on
 * 'protocol-error'; it never throws out of an event handler.
 */
export class ControlChannel
  extends EventEmitter<ControlChannelEvents>
  implements SessionTransport
{
  readonly socketPath: string;
  protocolErrors = 0;
  /** ERROR frames about single messages on running streams. */
  guestComplaints = 0;
  #log: Logger;
  #socket: net.Socket | undefined;
  #decoder = new FrameDecoder();
  #connected = false;
  #closed = false;
  /** One connect loop at a time: a second socket would interleave. */
  #opened = false;
  #hello: Hello | undefined;
  #helloWaiters: Pending[] = [];
  #nextStream = 1;
  #sessions = new Map<number, ExecSession>();
  #requests = new Map<number, Pending>();
  #workloadStart:
    | { resolve(pid: number): void; reject(e: Error): void }
    | undefined;

  constructor(socketPath: string, log: Logger = silentLogger) {
    super();
    this.socketPath = socketPath;
    this.#log = log;
  }

  /** True once the agent has said hello on the current connection. */
  get connected(): boolean {
    return this.#connected && this.#hello !== undefined;
  }

  /** The latest HELLO of the current connection, if any. */
  get hello(): Hello | undefined {
    return this.#hello;
  }

  /** Starts connecting (and reconnecting) in the background. */
  open(): void {
    if (this.#opened || this.#closed) return;
    this.#opened = true;
    void this.#connectLoop();
  }

  /** Resolves with the agent's HELLO on the current connection. */
  async waitForHello(timeoutMs: number): Promise<Hello> {
    this.open();
    if (this.#hello !== undefined) return this.#hello;
    const waiter = new Promise<void>((resolve, reject) => {
      this.#helloWaiters.push({ resolve, reject });
    });
    await withTimeout(waiter, timeoutMs, 'the guest agent to say hello');
    return this.#hello!;
  }

  /** Starts the workload; resolves with its pid in the guest. */
  start(spec: ProcessSpec, hostname?: string): Promise<number> {
    this.#workloadStart?.reject(new AegisError('CONFLICT', 'start superseded'));
    const started = new Promise<number>((resolve, reject) => {
      this.#workloadStart = { resolve, reject };
    });
    this.#send(startRequest(spec, hostname));
    return started;
  }

  exec(spec: ExecSpec): ExecSession {
    const stream = this.#allocateStream();
    const session = new ExecSession(stream, this);
    this.#sessions.set(stream, session);
    if (!this.#send(execRequest(stream, spec))) {
      this.#sessions.delete(stream);
      session.onError(notConnected());
    }
    return session;
  }

  /** Sets the guest's wall clock to the host's and waits for the ACK. */
  async setClock(timeoutMs = 2_000): Promise<void> {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    await this.#request((id) => setClockRequest(id, nowNs), timeoutMs);
  }

  /** Round trip to the agent; resolves with the time it took. */
  async ping(timeoutMs = 2_000): Promise<number> {
    const started = performance.now();
    await this.#request((id) => pingRequest(id), timeoutMs);
    return performance.now() - started;
  }

  signalWorkload(signal: number): void {
    this.#send(signalRequest(0, signal));
  }

  /** Asks the agent to stop everything and power the VM off. */
  shutdown(graceMs: number): boolean {
    return this.#send(shutdownRequest(graceMs));
  }

  /** Stops reconnecting and fails everything still waiting. */
  close(reason: Error = notConnected()): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#failAll(reason);
  }

  // SessionTransport, used by exec sessions.

  sendStdin(stream: number, data: Buffer): boolean {
    return this.#send(stdinData(stream, data));
  }

  sendResize(stream: number, rows: number, cols: number): void {
    this.#send(resizeRequest(stream, rows, cols));
  }

  sendSignal(stream: number, signal: number): void {
    this.#send(signalRequest(stream, signal));
  }

  // Connection handling.

  async #connectLoop(): Promise<void> {
    let delayMs = RECONNECT_MIN_MS;
    while (!this.#closed) {
      try {
        await this.#connectOnce();
        return;
      } catch {
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS);
      }
    }
  }

  #connectOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        this.#attach(socket);
        resolve();
      });
    });
  }

  #attach(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    this.#connected = true;
    this.#decoder.resync();
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose(socket));
    socket.write(helloRequest());
  }

  #onClose(socket: net.Socket): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    this.#connected = false;
    this.#hello = undefined;
    if (this.#closed) return;
    this.#log.debug('control channel lost; reconnecting');
    this.#failInFlight(notConnected());
    void this.#connectLoop();
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    try {
      for (const frame of this.#decoder.push(chunk)) {
        this.#dispatch(socket, parseGuestMessage(frame));
      }
    } catch (error) {
      this.#onProtocolError(socket, error);
    }
  }

  #onProtocolError(socket: net.Socket, error: unknown): void {
    this.protocolErrors++;
    const wrapped =
      error instanceof AegisError
        ? error
        : new AegisError('GUEST_PROTOCOL', describeError(error));
    this.#log.warn(
      { errors: this.protocolErrors, reason: wrapped.message },
      'control channel protocol error; reconnecting',
    );
    this.emit('protocol-error', wrapped);
    socket.destroy();
  }

  #dispatch(socket: net.Socket, message: GuestMessage): void {
    switch (message.kind) {
      case 'hello':
        this.#hello = message;
        for (const waiter of this.#helloWaiters.splice(0)) waiter.resolve();
        this.emit('hello', message);
        return;
      case 'log':
        this.emit('log', message);
        return;
      case 'started':
        if (message.stream === 0) {
          this.#workloadStart?.resolve(message.pid);
          this.#workloadStart = undefined;
        } else this.#sessions.get(message.stream)?.onStarted(message.pid);
        return;
      case 'output':
        this.#onOutput(socket, message.stream, message.fd, message.data);
        return;
      case 'exit':
        this.#onExit(message.stream, message.status);
        return;
      case 'error':
        this.#onGuestError(message.stream, message.errno, message.message);
        return;
      case 'ack':
        this.#requests.get(message.stream)?.resolve();
        this.#requests.delete(message.stream);
        return;
      case 'window':
        this.#sessions.get(message.stream)?.onWindow(message.bytes);
        return;
      case 'lease':
        this.emit('lease', message.holdMs);
        return;
    }
  }

  #onOutput(
    socket: net.Socket,
    stream: number,
    fd: 'stdout' | 'stderr',
    data: Buffer,
  ): void {
    const session = this.#sessions.get(stream);
    if (session === undefined) return;
    const target = fd === 'stdout' ? session.stdout : session.stderr;
    // A slow reader pauses the whole channel rather than letting the
    // guest grow the host's buffers without bound.
    if (!session.onOutput(fd, data)) {
      socket.pause();
      target.once('drain', () => socket.resume());
    }
  }

  #onExit(stream: number, status: ExitStatus): void {
    if (stream === 0) {
      this.emit('workload-exit', status);
      return;
    }
    this.#sessions.get(stream)?.onExit(status);
    this.#sessions.delete(stream);
  }

  /**
   * An ERROR answers a START or EXEC that failed; on a running stream it
   * is a complaint about one message (docs/protocol.md) and the stream
   * goes on.
   */
  #onGuestError(stream: number, errno: number, message: string): void {
    const error = new AegisError(
      'GUEST_ERROR',
      `the guest agent reports: ${message} (errno ${errno})`,
    );
    const session = this.#sessions.get(stream);
    if (stream === 0 && this.#workloadStart !== undefined) {
      this.#workloadStart.reject(error);
      this.#workloadStart = undefined;
    } else if (session !== undefined && !session.hasStarted) {
      session.onError(error);
      this.#sessions.delete(stream);
    } else if (isPowerOfTwo(++this.guestComplaints)) {
      // The guest decides how often this happens: log sparsely.
      this.#log.warn(
        { stream, errno, reason: message, count: this.guestComplaints },
        'the guest agent rejected a message',
      );
    }
  }

  #send(frame: Buffer): boolean {
    if (!this.#connected || this.#socket === undefined) return false;
    this.#socket.write(frame);
    return true;
  }

  async #request(
    build: (id: number) => Buffer,
    timeoutMs: number,
  ): Promise<void> {
    const id = this.#allocateStream();
    const answered = new Promise<void>((resolve, reject) => {
      this.#requests.set(id, { resolve, reject });
    });
    if (!this.#send(build(id))) {
      this.#requests.delete(id);
      throw notConnected();
    }
    try {
      await withTimeout(answered, timeoutMs, 'the guest agent to answer');
    } finally {
      this.#requests.delete(id);
    }
  }

  #allocateStream(): number {
    for (;;) {
      const id = this.#nextStream;
      this.#nextStream = id >= MAX_STREAM_ID ? 1 : id + 1;
      if (!this.#sessions.has(id) && !this.#requests.has(id)) return id;
    }
  }

  /** Fails what cannot survive a reconnection: sessions and requests. */
  #failInFlight(reason: Error): void {
    for (const session of this.#sessions.values()) session.onError(reason);
    this.#sessions.clear();
    for (const request of this.#requests.values()) request.reject(reason);
    this.#requests.clear();
  }

  #failAll(reason: Error): void {
    this.#failInFlight(reason);
    for (const waiter of this.#helloWaiters.splice(0)) waiter.reject(reason);
    this.#workloadStart?.reject(reason);
    this.#workloadStart = undefined;
  }
}

function isPowerOfTwo(count: number): boolean {
  return (count & (count - 1)) === 0;
}

function notConnected(): AegisError {
  return new AegisError(
    'GUEST_DISCONNECTED',
    'the control channel to the guest agent is not connected',
  );
}

async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const controller = new AbortController();
  const timer = sleep(timeoutMs, undefined, { signal: controller.signal }).then(
    () => {
      throw new AegisError(
        'TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for ${what}`,
      );
    },
    () => undefined as never,
  );
  try {
    return await Promise.race([promise, timer]);
  } finally {
    controller.abort();
  }
}
