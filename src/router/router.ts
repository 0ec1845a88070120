import type { Socket } from 'node:net';
import { type Logger, silentLogger } from '../log.ts';
import { bindServer } from './bind.ts';
import { type ParsedListenOptions, parseListenOptions } from './options.ts';
import {
  createHttpServer,
  createTcpServer,
  type ProtocolServer,
} from './servers.ts';
import { ListenerStats } from './stats.ts';
import type {
  ListenOptions,
  RouterCounters,
  UpstreamAddress,
} from './types.ts';

/**
 * The ingress router: one listener per exposed host port, each living as
 * long as its instance. See docs/router.md for the retry rules and the
 * meaning of the router's own 502, 503 and 504 answers.
 */
export class Router {
  readonly #log: Logger;
  readonly #listeners = new Set<RouterListener>();

  constructor(options: { logger?: Logger } = {}) {
    this.#log = options.logger ?? silentLogger;
  }

  /**
   * Binds `bindHost:hostPort` and starts routing to `target`. Rejects with
   * CONFLICT when another process holds the port, INVALID_ARGUMENT for
   * bad options.
   */
  async listen(options: ListenOptions): Promise<RouterListener> {
    const parsed = parseListenOptions(options);
    const log = this.#log.child({ instance: parsed.target.instanceId });
    const listener = new RouterListener(parsed, log, (closed) =>
      this.#listeners.delete(closed),
    );

    await listener.start();
    this.#listeners.add(listener);
    return listener;
  }

  /** Closes every listener. */
  async close(): Promise<void> {
    await Promise.all([...this.#listeners].map((listener) => listener.close()));
  }
}

export class RouterListener {
  readonly #options: ParsedListenOptions;
  readonly #log: Logger;
  readonly #stats: ListenerStats;
  readonly #protocol: ProtocolServer;
  readonly #sockets = new Set<Socket>();
  readonly #onClosed: (listener: RouterListener) => void;
  #closing: Promise<void> | null = null;

  constructor(
    options: ParsedListenOptions,
    log: Logger,
    onClosed: (listener: RouterListener) => void,
  ) {
    this.#options = options;
    this.#log = log;
    this.#onClosed = onClosed;
    this.#stats = new ListenerStats(log);
    const create =
      options.protocol === 'http' ? createHttpServer : createTcpServer;
    this.#protocol = create(options, this.#stats);
  }

  /** The bound address; its port is the real one when hostPort was 0. */
  get address(): UpstreamAddress {
    const bound = this.#protocol.server.address();
    if (bound === null || typeof bound === 'string') {
      return { host: this.#options.bindHost, port: this.#options.hostPort };
    }
    return { host: bound.address, port: bound.port };
  }

  get counters(): Readonly<RouterCounters> {
    return this.#stats.counters;
  }

  async start(): Promise<void> {
    const { server } = this.#protocol;
    const { bindHost, hostPort, protocol } = this.#options;

    server.on('connection', (socket: Socket) => this.#track(socket));
    await bindServer(server, bindHost, hostPort);
    this.#log.info({ ...this.address, protocol }, 'router listening');
  }

  /**
   * Stops accepting, cuts every client connection (upgraded and relayed
   * ones included) and drops the upstream pool.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    const { server } = this.#protocol;
    const stopped = new Promise<void>((resolve) =>
      server.close(() => resolve()),
    );

    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([stopped, this.#protocol.release()]);
    this.#onClosed(this);
    this.#log.info({ ...this.address }, 'router closed');
  }

  #track(socket: Socket): void {
    this.#stats.counters.connections++;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}
