import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../guest/artifacts.ts';

/**
 * The splice(2) relay that native/relay builds, if it is there. Without
 * it the router relays in its own process (splice.ts), at about half the
 * throughput.
 */
export function findNativeRelay(): string | undefined {
  const file = path.join(PROJECT_ROOT, 'build/native/aegis-relay');
  try {
    accessSync(file, constants.X_OK);
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Gives both sockets to a relay process (client as its fd 0, upstream as
 * fd 1) and lets go of them here. What this process has already read
 * from either socket is written to the other first, so that no byte is
 * lost or reordered. Resolves with the relay once it runs; it exits when
 * both directions are done. Resolves with undefined, the sockets still
 * here, when no process could be started (a full process table).
 */
export async function handOff(
  relayPath: string,
  client: Socket,
  upstream: Socket,
): Promise<ChildProcess | undefined> {
  const fromClient = stopReading(client);
  const fromUpstream = stopReading(upstream);
  await Promise.all([
    writeAll(upstream, fromClient),
    writeAll(client, fromUpstream),
  ]);
  const relay = spawn(relayPath, [], {
    stdio: [client, upstream, 'ignore'],
  });
  // A failed spawn leaves no pid and reports an 'error' a tick later,
  // which would be thrown without a listener; so would a failed kill.
  relay.on('error', () => {});
  if (relay.pid === undefined) return undefined;
  // The relay holds its own copies now; closing these sends nothing.
  client.removeAllListeners('close');
  upstream.removeAllListeners('close');
  client.destroy();
  upstream.destroy();
  return relay;
}

/** Stops reading into Node and returns what was read but not taken. */
function stopReading(socket: Socket): Buffer[] {
  socket.pause();
  // pause() alone lets libuv read on up to the high-water mark; the
  // handle's readStop() leaves further bytes in the kernel for the relay.
  const handle = (socket as unknown as { _handle?: { readStop(): void } })
    ._handle;
  handle?.readStop();
  const chunks: Buffer[] = [];
  for (let chunk = socket.read(); chunk !== null; chunk = socket.read()) {
    chunks.push(chunk as Buffer);
  }
  return chunks;
}

function writeAll(socket: Socket, chunks: Buffer[]): Promise<void> {
  if (chunks.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.write(Buffer.concat(chunks), (error) =>
      error ? reject(error) : resolve(),
    );
  });
}
