import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findNativeRelay } from '../../src/router/native-relay.ts';
import {
  closeServer,
  ForwardStandIn,
  fixedTarget,
  LOOPBACK,
  listenOnFreePort,
  startRouter,
} from './helpers.ts';

const servers: net.Server[] = [];
after(() => Promise.all(servers.map(closeServer)));

/** Reads everything until the client's FIN, then replies and ends. */
function replyAfterEnd(): net.Server {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let received = 0;
    socket.on('data', (chunk) => {
      received += chunk.length;
    });
    socket.on('end', () => socket.end(`got ${received} bytes`));
  });
  servers.push(server);
  return server;
}

/** Sends `payload`, half-closes, and collects the reply until the peer's FIN. */
function halfCloseExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port, allowHalfOpen: true });
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      reply += chunk;
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.end(payload);
  });
}

const RELAYS: [string, string | false | undefined][] = [
  ['the splice(2) relay process', findNativeRelay()],
  ['the in-process relay', false],
];

for (const [relayName, nativeRelay] of RELAYS) {
  describe(`tcp relay, with ${relayName}`, () => {
    before(() => {
      assert.ok(nativeRelay !== undefined, 'build it: bash scripts/setup.sh');
    });

    it('forwards a half-close and still delivers the reply', async () => {
      const upstreamPort = await listenOnFreePort(replyAfterEnd());
      const target = fixedTarget(upstreamPort);
      const { router, listener, port } = await startRouter(target, {
        protocol: 'tcp',
        nativeRelay,
      });

      const reply = await halfCloseExchange(port, 'x'.repeat(50_000));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await router.close();

      assert.equal(reply, 'got 50000 bytes');
      assert.equal(target.wakes, 1);
      assert.deepEqual(target.activity, ['open', 'close']);
      assert.equal(listener.counters.connections, 1);
    });

    it('holds the first bytes until an app listens behind the forward', async () => {
      // The stand-in resets like QEMU's forward with no guest listener.
      const forward = new ForwardStandIn();
      const forwardPort = await listenOnFreePort(forward.server);
      const app = replyAfterEnd();
      const { router, port } = await startRouter(fixedTarget(forwardPort), {
        protocol: 'tcp',
        nativeRelay,
      });
      setTimeout(() => {
        forward.server.removeAllListeners('connection');
        forward.server.on('connection', (socket) =>
          app.emit('connection', socket),
        );
      }, 300);

      const reply = await halfCloseExchange(port, 'early bytes');
      await router.close();
      await closeServer(forward.server);

      assert.equal(reply, 'got 11 bytes');
      assert.ok(forward.accepted > 1, 'earlier attempts were reset');
    });

    it('passes on what a server-first upstream says before the client', async () => {
      const greeter = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.write('220 ready\n');
        socket.on('data', (chunk) => socket.write(`echo ${chunk}`));
        socket.on('end', () => socket.end());
      });
      servers.push(greeter);
      const upstreamPort = await listenOnFreePort(greeter);
      const { router, port } = await startRouter(fixedTarget(upstreamPort), {
        protocol: 'tcp',
        nativeRelay,
      });

      const socket = net.connect({ host: LOOPBACK, port, allowHalfOpen: true });
      let reply = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        reply += chunk;
        if (reply === '220 ready\n') socket.end('hi\n');
      });
      await once(socket, 'end');
      await router.close();

      assert.equal(reply, '220 ready\necho hi\n');
    });

    it('cuts relayed connections when the listener closes', async () => {
      const silent = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('error', () => {});
      });
      servers.push(silent);
      const upstreamPort = await listenOnFreePort(silent);
      const { router, listener, port } = await startRouter(
        fixedTarget(upstreamPort),
        { protocol: 'tcp', nativeRelay },
      );
      const socket = net.connect({ host: LOOPBACK, port });
      socket.on('error', () => {});
      socket.write('waiting');
      await waitUntil(() => listener.counters.upstreamConnects === 1);

      const closed = once(socket, 'close');
      await router.close();
      await closed;
    });

    it('closes the client connection when the bound runs out', async () => {
      const forward = new ForwardStandIn();
      const forwardPort = await listenOnFreePort(forward.server);
      const { router, listener, port } = await startRouter(
        fixedTarget(forwardPort),
        { protocol: 'tcp', nativeRelay, retry: { timeoutMs: 1_000 } },
      );

      const reply = await halfCloseExchange(port, 'lost').catch(() => 'reset');
      await router.close();
      await closeServer(forward.server);

      assert.ok(reply === '' || reply === 'reset', `got ${reply}`);
      assert.equal(listener.counters.unavailable, 1);
    });
  });
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('tcp relay, when the relay process cannot start', () => {
  it('relays in the router process instead', async () => {
    // What a full process table does to spawn, as a missing file does:
    // no process, and an error a tick later.
    const missing = join(tmpdir(), 'aegis-no-such-relay', 'aegis-relay');
    const upstreamPort = await listenOnFreePort(replyAfterEnd());
    const { router, port } = await startRouter(fixedTarget(upstreamPort), {
      protocol: 'tcp',
      nativeRelay: missing,
    });
    const reply = await halfCloseExchange(port, 'still relayed');
    await router.close();
    assert.equal(reply, 'got 13 bytes');
  });
});
