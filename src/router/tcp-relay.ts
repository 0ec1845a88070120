import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { beginActivity } from './activity.ts';
import { handOff } from './native-relay.ts';
import { splice } from './splice.ts';
import { noteTunnelOutcome, openTunnel, type TunnelContext } from './tunnel.ts';

export interface RelayContext extends TunnelContext {
  /** The splice(2) relay to hand connections to, when it was built. */
  nativeRelay: string | undefined;
  /** Relay processes running, which the listener's close ends. */
  relays: Set<ChildProcess>;
}

/**
 * Relays one client TCP connection. The client's first bytes wait in its
 * socket (reads stop at the stream's high-water mark) until an upstream
 * connection has passed its probation; when the bound runs out the client
 * connection is closed, which is TCP's only way to say "unavailable".
 */
export function relayConnection(context: RelayContext, client: Socket): void {
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
    if (context.nativeRelay === undefined) {
      splice(client, outcome.value, endActivity);
      return;
    }
    relayNatively(context, client, outcome.value, endActivity);
  });
}

function relayNatively(
  context: RelayContext,
  client: Socket,
  upstream: Socket,
  onDone: () => void,
): void {
  handOff(context.nativeRelay!, client, upstream).then(
    (relay) => {
      if (relay === undefined) {
        splice(client, upstream, onDone);
        return;
      }
      context.relays.add(relay);
      relay.once('close', () => {
        context.relays.delete(relay);
        onDone();
      });
    },
    () => {
      // The client or the upstream broke while the bytes read so far
      // were passed on: as in the relay, neither may see a clean end.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
      onDone();
    },
  );
}

function ignore(): void {}
