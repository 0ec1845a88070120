import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
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

describe('tcp relay', () => {
  it('forwards a half-close and still delivers the reply', async () => {
    const upstreamPort = await listenOnFreePort(replyAfterEnd());
    const target = fixedTarget(upstreamPort);
    const { router, listener, port } = await startRouter(target, {
      protocol: 'tcp',
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

  it('closes the client connection when the bound runs out', async () => {
    const forward = new ForwardStandIn();
    const forwardPort = await listenOnFreePort(forward.server);
    const { router, listener, port } = await startRouter(
      fixedTarget(forwardPort),
      { protocol: 'tcp', retry: { timeoutMs: 1_000 } },
    );

    const reply = await halfCloseExchange(port, 'lost').catch(() => 'reset');
    await router.close();
    await closeServer(forward.server);

    assert.ok(reply === '' || reply === 'reset', `got ${reply}`);
    assert.equal(listener.counters.unavailable, 1);
  });
});
