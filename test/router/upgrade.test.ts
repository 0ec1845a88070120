import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  closeServer,
  fixedTarget,
  LOOPBACK,
  listenOnFreePort,
  startRouter,
} from './helpers.ts';

// RFC 6455 §1.3: the server proves it read the key with this GUID.
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** A WebSocket echo server that understands one short text frame at a time. */
function echoServer(): http.Server {
  const server = http.createServer((_req, res) => res.end('no upgrade'));
  server.on('upgrade', (req, socket) => {
    const key = String(req.headers['sec-websocket-key']);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n` +
        `X-Saw-Forwarded: ${req.headers.forwarded}\r\n\r\n`,
    );
    socket.on('end', () => socket.end());
    socket.on('data', (frame: Buffer) => {
      const payload = unmask(frame);
      socket.write(
        Buffer.concat([Buffer.from([0x81, payload.length]), payload]),
      );
    });
  });
  return server;
}

/** RFC 6455 §5.3: client frames are masked; short payloads only. */
function unmask(frame: Buffer): Buffer {
  const length = frame[1]! & 0x7f;
  const mask = frame.subarray(2, 6);
  const payload = Buffer.from(frame.subarray(6, 6 + length));
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return payload;
}

function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i % 4]!;
  return Buffer.concat([
    Buffer.from([0x81, 0x80 | payload.length]),
    mask,
    masked,
  ]);
}

function readUntil(
  socket: net.Socket,
  done: (data: Buffer) => boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      if (!done(data)) return;
      socket.off('data', onData);
      resolve(data);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('Upgrade pass-through', () => {
  let upstream: http.Server;
  let upstreamPort: number;

  before(async () => {
    upstream = echoServer();
    upstreamPort = await listenOnFreePort(upstream);
  });
  after(() => closeServer(upstream));

  it('echoes WebSocket frames through the router', async () => {
    const target = fixedTarget(upstreamPort);
    const { router, listener, port } = await startRouter(target);
    const key = randomBytes(16).toString('base64');
    const socket = net.connect(port, LOOPBACK);

    socket.write(
      `GET /chat HTTP/1.1\r\nHost: ${LOOPBACK}:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const head = (
      await readUntil(socket, (data) => data.includes('\r\n\r\n'))
    ).toString('latin1');
    socket.write(maskedTextFrame('hello through aegis'));
    const echo = await readUntil(socket, (data) => data.length >= 21);
    socket.end();
    await new Promise((resolve) => socket.once('close', resolve));
    await router.close();

    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(
      head,
      new RegExp(
        `Sec-WebSocket-Accept: ${acceptFor(key).replace(/[+/]/g, '\\$&')}`,
      ),
    );
    assert.match(head, /X-Saw-Forwarded: for=127\.0\.0\.1;/);
    assert.equal(echo[0], 0x81);
    assert.equal(echo.subarray(2).toString(), 'hello through aegis');
    assert.equal(listener.counters.upgrades, 1);
    assert.deepEqual(target.activity, ['open', 'close']);
  });
});
