import http from 'node:http';
import net from 'node:net';
import { proxyRequest } from './http-exchange.ts';
import type { ParsedListenOptions } from './options.ts';
import type { ListenerStats } from './stats.ts';
import { type RelayContext, relayConnection } from './tcp-relay.ts';
import { proxyUpgrade } from './upgrade.ts';
import { UpstreamPools } from './upstream-pool.ts';

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
  const pools = new UpstreamPools(policy, responseHeaderTimeoutMs, () => {
    stats.counters.upstreamConnects++;
  });
  const context = { target, policy, pools, stats };
  const server = http.createServer(
    {
      // Uploads may be long; the header timeout still bounds idle clients.
      requestTimeout: 0,
      noDelay: true,
    },
    (req, res) => proxyRequest(context, req, res),
  );

  server.on('upgrade', (req, socket, head) =>
    // node:http hands over the net.Socket it accepted.
    proxyUpgrade(
      { ...context, responseHeaderTimeoutMs },
      req,
      socket as net.Socket,
      head,
    ),
  );
  return { server, release: () => pools.destroy() };
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
