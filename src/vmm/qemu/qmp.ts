/**
 * A client for the QEMU Machine Protocol (QMP): JSON objects, one per
 * line, over a unix socket. Commands are answered in order; events
 * arrive in between. See QEMU's "QMP Specification" and "QMP Reference".
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { AegisError } from '../../errors.ts';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

type Waiter = {
  command: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
};

/** QEMU's greeting and answers are small; a longer line is corrupt. */
const MAX_LINE_BYTES = 1 << 20;

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  #socket: net.Socket;
  #buffered = '';
  #greeted = false;
  #waiters: Waiter[] = [];
  #closed = false;

  private constructor(socket: net.Socket) {
    super();
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.#onData(text));
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  /** Connects, reads the greeting and leaves capabilities negotiation. */
  static async connect(socketPath: string): Promise<QmpClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const candidate = net.createConnection(socketPath);
      candidate.once('error', reject);
      candidate.once('connect', () => {
        candidate.off('error', reject);
        resolve(candidate);
      });
    });
    const client = new QmpClient(socket);
    await client.#call('qmp_capabilities', undefined);
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
  ): Promise<T> {
    return this.#call(command, args) as Promise<T>;
  }

  close(): void {
    this.#socket.destroy();
  }

  #call(command: string, args: Record<string, unknown> | undefined) {
    if (this.#closed) return Promise.reject(closedError(command));
    const message =
      args === undefined
        ? { execute: command }
        : { execute: command, arguments: args };
    this.#socket.write(`${JSON.stringify(message)}\n`);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ command, resolve, reject });
    });
  }

  #onData(text: string): void {
    this.#buffered += text;
    for (;;) {
      const end = this.#buffered.indexOf('\n');
      if (end < 0) break;
      const line = this.#buffered.slice(0, end);
      this.#buffered = this.#buffered.slice(end + 1);
      if (line.trim() !== '') this.#onLine(line);
    }
    if (this.#buffered.length > MAX_LINE_BYTES) this.#socket.destroy();
  }

  #onLine(line: string): void {
    const message = JSON.parse(line) as Record<string, unknown>;
    if ('QMP' in message && !this.#greeted) {
      this.#greeted = true;
      return;
    }
    if (typeof message.event === 'string') {
      this.emit('event', message as unknown as QmpEvent);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return;
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string };
      waiter.reject(
        new AegisError(
          'QMP_ERROR',
          `QEMU refused ${waiter.command}: ${error.desc ?? error.class}`,
        ),
      );
      return;
    }
    waiter.resolve(message.return);
  }

  #onClose(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(closedError(waiter.command));
    }
    this.emit('close');
  }
}

function closedError(command: string): AegisError {
  return new AegisError(
    'VMM_EXITED',
    `QEMU's monitor closed before it answered ${command}`,
  );
}
