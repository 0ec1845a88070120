import http from 'node:http';
import net from 'node:net';
import { Router, type RouterListener } from '../../src/router/index.ts';
import type { ListenOptions, RouteTarget } from '../../src/router/types.ts';

export const LOOPBACK = '127.0.0.1';

/** Binds a server on a free loopback port and returns the port. */
export async function listenOnFreePort(
  server: net.Server,
  port = 0,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

export function closeServer(server: net.Server): Promise<void> {
  if ('closeAllConnections' in server) {
    (server as http.Server).closeAllConnections();
  }
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port nobody listens on right now: connecting to it is refused. */
export async function unusedPort(): Promise<number> {
  const probe = net.createServer();
  const port = await listenOnFreePort(probe);
  await closeServer(probe);
  return port;
}

/**
 * Stands in for QEMU's user-mode forward while no guest process listens:
 * it accepts every connection, then resets it a few ms later without
 * sending a byte. `answerWith` switches it to handing connections to a
 * real server, as when the guest app binds its port.
 */
export class ForwardStandIn {
  readonly server: net.Server;
  accepted = 0;
  #app: http.Server | null = null;

  constructor(resetAfterMs = 3) {
    this.server = net.createServer((socket) => {
      this.accepted++;
      if (this.#app !== null) {
        this.#app.emit('connection', socket);
        return;
      }
      socket.on('error', () => {});
      setTimeout(() => socket.resetAndDestroy(), resetAfterMs);
    });
  }

  answerWith(app: http.Server): void {
    this.#app = app;
  }

  /** The guest app closed its port: reset connections again. */
  stopAnswering(): void {
    this.#app = null;
  }
}

/** A target whose wake() returns a fixed address, with call records. */
export interface RecordingTarget extends RouteTarget {
  wakes: number;
  activity: string[];
  /** The guest boot wake() reports; change it to stand for a cold boot. */
  epoch?: string;
}

export function fixedTarget(port: number, epoch?: string): RecordingTarget {
  const target: RecordingTarget = {
    instanceId: 'test-instance',
    wakes: 0,
    activity: [],
    epoch,
    wake: async () => {
      target.wakes++;
      return { host: LOOPBACK, port, epoch: target.epoch };
    },
    onActivity: (event) => target.activity.push(event),
  };
  return target;
}

export interface RouterUnderTest {
  router: Router;
  listener: RouterListener;
  port: number;
}

export async function startRouter(
  target: RouteTarget,
  options: Partial<ListenOptions> = {},
): Promise<RouterUnderTest> {
  const router = new Router();
  const listener = await router.listen({
    bindHost: LOOPBACK,
    hostPort: 0,
    protocol: 'http',
    target,
    ...options,
    // The stand-in resets 3 ms after accepting; a busy 2-core machine can
    // delay that by tens of ms, so the tests give the probation room.
    retry: { timeoutMs: 3_000, probationMs: 200, ...options.retry },
  });
  return { router, listener, port: listener.address.port };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh client connection. */
export function fetchText(
  port: number,
  options: http.RequestOptions & { body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: LOOPBACK, port, agent: false, ...options },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
