import type { Socket } from 'node:net';
import { beginActivity } from './activity.ts';
import { splice } from './splice.ts';
import { noteTunnelOutcome, openTunnel, type TunnelContext } from './tunnel.ts';

/**
 * Relays one client TCP connection. The client's first bytes wait in its
 * socket (reads stop at the stream's high-water mark) until an upstream
 * connection has passed its probation; when the bound runs out the client
 * connection is closed, which is TCP's only way to say "unavailable".
 */
export function relayConnection(context: TunnelContext, client: Socket): void {
  const { stats } = context;
  const endActivity = beginActivity(context.target, stats);
  const gone = new AbortController();

  client.setNoDelay(true);
  const onEarlyClose = (): void => {
    stats.counters.clientAborts++;
    gone.abort();
    endActivity();
  };
  client.on('error', ignore);
  client.once('close', onEarlyClose);

  openTunnel(context, gone.signal).then((outcome) => {
    client.off('close', onEarlyClose);
    if (!noteTunnelOutcome(stats, outcome)) {
      client.destroy();
      endActivity();
      return;
    }
    if (client.destroyed) {
      outcome.value.destroy();
      endActivity();
      return;
    }
    splice(client, outcome.value, endActivity);
  });
}

function ignore(): void {}
