import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RouteTarget } from '../../src/router/types.ts';
import {
  closeServer,
  LOOPBACK,
  listenOnFreePort,
  startRouter,
} from './helpers.ts';

/** A target on the router's fast path: ready() names the upstream. */
function readyTarget(port: number): RouteTarget {
  const address = { host: LOOPBACK, port, epoch: 'boot' };
  return {
    instanceId: 'framing-test',
    wake: async () => address,
    ready: () => address,
  };
}

/**
 * Writes `request` on a fresh connection and collects the reply until
 * `done(reply)` holds or the router closes the connection.
 */
async function exchange(
  port: number,
  request: string | Buffer,
  done: (reply: string) => boolean = () => false,
): Promise<{ reply: string; closed: boolean }> {
  const socket = net.connect(port, LOOPBACK);
  let reply = '';
  let closed = false;
  socket.write(request);
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (done(reply)) resolve();
    });
    socket.on('close', () => {
      closed = true;
      resolve();
    });
    socket.on('error', () => {});
  });
  socket.destroy();
  return { reply, closed };
}

/** How many complete responses `reply` holds (status lines). */
function statuses(reply: string): number[] {
  return [...reply.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

/**
 * A raw upstream: `answer` gets each connection's bytes so far and says
 * what to write back, if anything yet.
 */
function rawUpstream(
  answer: (received: string) => string | undefined,
): net.Server {
  return net.createServer((socket) => {
    let received = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const reply = answer(received);
      if (reply === undefined) return;
      received = '';
      socket.write(reply);
    });
  });
}

describe('HTTP/1.1 framing through the router', () => {
  let upstream: http.Server;
  let port: number;
  const bodies: string[] = [];
  let heads = 0;
  let close: () => Promise<void>;

  before(async () => {
    upstream = http.createServer((req, res) => {
      heads++;
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        bodies.push(body);
        if (req.url === '/chunked') {
          res.write('first,');
          res.end('second');
          return;
        }
        if (req.url === '/cached') {
          res.writeHead(304, { ETag: '"v1"' });
          res.end();
          return;
        }
        res.end(`${req.method} ${req.url} ${body}`);
      });
    });
    const { router, port: routerPort } = await startRouter(
      readyTarget(await listenOnFreePort(upstream)),
    );
    port = routerPort;
    close = async () => {
      await router.close();
      await closeServer(upstream);
    };
  });

  after(() => close());

  it('answers pipelined requests in order on one connection', async () => {
    const one = 'GET /one HTTP/1.1\r\nHost: t\r\n\r\n';
    const two = 'POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc';
    const three = 'HEAD /three HTTP/1.1\r\nHost: t\r\n\r\n';
    const { reply, closed } = await exchange(
      port,
      one + two + three,
      (text) => statuses(text).length === 3,
    );

    assert.deepEqual(statuses(reply), [200, 200, 200]);
    assert.ok(reply.indexOf('GET /one') < reply.indexOf('POST /two abc'));
    assert.ok(!reply.includes('HEAD /three'), 'a HEAD answer has no body');
    assert.equal(closed, false, 'the connection stays open');
  });

  it('passes a chunked upload on and a chunked download back', async () => {
    const upload =
      'POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4\r\nwiki\r\n5;note=x\r\npedia\r\n0\r\n\r\n';
    const up = await exchange(port, upload, (t) => t.includes('wikipedia'));
    const down = await exchange(
      port,
      'GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n',
      (text) => text.endsWith('0\r\n\r\n'),
    );

    assert.match(up.reply, /POST \/up wikipedia/);
    assert.match(down.reply, /transfer-encoding: chunked/i);
    assert.match(down.reply, /first,/);
    assert.match(down.reply, /second/);
  });

  it('decodes a chunked answer for an HTTP/1.0 client, then closes', async () => {
    const { reply, closed } = await exchange(
      port,
      'GET /chunked HTTP/1.0\r\n\r\n',
    );

    assert.equal(closed, true);
    assert.doesNotMatch(reply, /transfer-encoding/i);
    assert.match(reply, /Connection: close/);
    assert.ok(reply.endsWith('\r\n\r\nfirst,second'), reply);
  });

  it('passes 304 without a body and keeps the connection', async () => {
    const request = 'GET /cached HTTP/1.1\r\nHost: t\r\n\r\n';
    const { reply } = await exchange(
      port,
      request + request,
      (text) => statuses(text).length === 2,
    );

    assert.deepEqual(statuses(reply), [304, 304]);
  });

  it('refuses a request with both Content-Length and chunked', async () => {
    const before = bodies.length;
    const smuggle =
      'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\n\r\n';
    const { reply, closed } = await exchange(port, smuggle);

    assert.deepEqual(statuses(reply), [400]);
    assert.equal(closed, true);
    assert.equal(bodies.length, before, 'nothing reached the upstream');
  });

  it('refuses a malformed chunked body before the upstream sees it', async () => {
    const before = heads;
    const { reply, closed } = await exchange(
      port,
      'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' +
        'zz\r\nhello\r\n0\r\n\r\n',
    );

    assert.deepEqual(statuses(reply), [400]);
    assert.equal(closed, true);
    assert.equal(heads, before, 'no request head reached the upstream');
  });

  it('refuses a head over 16 KiB with 431', async () => {
    const big = `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`;
    const { reply, closed } = await exchange(port, big);

    assert.deepEqual(statuses(reply), [431]);
    assert.equal(closed, true);
  });

  it('refuses a request without Host, as HTTP/1.1 asks', async () => {
    const { reply } = await exchange(port, 'GET / HTTP/1.1\r\n\r\n');

    assert.deepEqual(statuses(reply), [400]);
  });

  it('sends 100 Continue once the upstream is there, then the answer', async () => {
    const socket = net.connect(port, LOOPBACK);
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
    });
    socket.write(
      'PUT /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n' +
        'Content-Length: 2\r\n\r\n',
    );
    while (!reply.includes('100 Continue')) await once(socket, 'data');
    socket.write('ok');
    while (!reply.includes('PUT /e ok')) await once(socket, 'data');
    socket.destroy();

    assert.deepEqual(statuses(reply), [100, 200]);
  });
});

describe('upstream misbehaviour', () => {
  it('answers 502 when the upstream sends no valid head', async () => {
    const upstream = rawUpstream(() => 'SPDY/3 200 OK\r\n\r\n');
    const { router, port } = await startRouter(
      readyTarget(await listenOnFreePort(upstream)),
    );
    const { reply } = await exchange(
      port,
      'GET / HTTP/1.1\r\nHost: t\r\n\r\n',
      (text) => statuses(text).length === 1,
    );
    await router.close();
    await closeServer(upstream);

    assert.deepEqual(statuses(reply), [502]);
  });

  it('ends a close-delimited answer with the upstream and closes', async () => {
    const upstream = net.createServer((socket) => {
      socket.once('data', () => {
        socket.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
      });
    });
    const { router, port } = await startRouter(
      readyTarget(await listenOnFreePort(upstream)),
    );
    const { reply, closed } = await exchange(
      port,
      'GET / HTTP/1.1\r\nHost: t\r\n\r\n',
    );
    await router.close();
    await closeServer(upstream);

    assert.equal(closed, true);
    assert.match(reply, /Connection: close/);
    assert.ok(reply.endsWith('until the end'));
  });

  it('does not reuse a connection the upstream said it would close', async () => {
    let accepted = 0;
    const upstream = rawUpstream((received) =>
      received.endsWith('\r\n\r\n')
        ? 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'
        : undefined,
    );
    upstream.on('connection', () => accepted++);
    const { router, port } = await startRouter(
      readyTarget(await listenOnFreePort(upstream)),
    );
    const request = 'GET / HTTP/1.1\r\nHost: t\r\n\r\n';
    const { reply } = await exchange(
      port,
      request + request,
      (text) => statuses(text).length === 2,
    );
    await router.close();
    await closeServer(upstream);

    assert.deepEqual(statuses(reply), [200, 200]);
    assert.equal(accepted, 2);
  });

  it('drops a request whose client ends before its body is complete', {
    timeout: 10_000,
  }, async () => {
    let upstreamClosed = (): void => {};
    const closed = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    const upstream = http.createServer((req) => {
      req.socket.on('close', () => upstreamClosed());
      req.resume();
    });
    const { router, port } = await startRouter(
      readyTarget(await listenOnFreePort(upstream)),
    );
    const client = net.connect(port, LOOPBACK);
    client.on('error', () => {});
    client.write('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc');
    await once(upstream, 'request');
    client.end();

    // Without the drop, the upstream would wait for 7 more bytes.
    await closed;
    if (!client.closed) await once(client, 'close');
    await router.close();
    await closeServer(upstream);
  });
});
