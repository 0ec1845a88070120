import net from 'node:net';
import { ClientConnection } from './http-connection.ts';
import type { ParsedListenOptions } from './options.ts';
import type { ListenerStats } from './stats.ts';
import { type RelayContext, relayConnection } from './tcp-relay.ts';
import { UpstreamPool } from './upstream-pool.ts';

/** A protocol's server plus what must be released with it. */
export interface ProtocolServer {
  server: net.Server;
  release(): Promise<void>;
}

export function createHttpServer(
  options: ParsedListenOptions,
  stats: ListenerStats,
): ProtocolServer {
  const { target, retry: policy, responseHeaderTimeoutMs } = options;
  const pool = new UpstreamPool(policy, () => {
    stats.counters.upstreamConnects++;
  });
  const context = { target, policy, pool, stats, responseHeaderTimeoutMs };
  // The router parses HTTP/1.1 itself (see http1/): node:http and undici
  // cost two thirds of its rate in front of a fast upstream.
  const server = net.createServer(
    { allowHalfOpen: true, noDelay: true },
    (socket) => new ClientConnection(context, socket),
  );
  return { server, release: () => pool.destroy() };
}

export function createTcpServer(
  options: ParsedListenOptions,
  stats: ListenerStats,
): ProtocolServer {
  const context: RelayContext = {
    target: options.target,
    policy: options.retry,
    stats,
    nativeRelay: options.nativeRelay,
    relays: new Set(),
  };
  const server = net.createServer(
    { allowHalfOpen: true, noDelay: true },
    (socket) => relayConnection(context, socket),
  );
  // Closing the listener cuts its connections, those in relays too.
  const release = async () => {
    for (const relay of context.relays) relay.kill('SIGKILL');
  };
  return { server, release };
}
