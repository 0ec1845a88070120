import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { AegisError } from '../../src/errors.ts';
import {
  closeServer,
  fetchText,
  fixedTarget,
  LOOPBACK,
  listenOnFreePort,
  startRouter,
} from './helpers.ts';

describe('http proxying', () => {
  let upstream: http.Server;
  let upstreamPort: number;
  let connections = 0;
  const seen: http.IncomingMessage[] = [];
  const bodies: string[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(req);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        bodies.push(body);
        res.setHeader('X-Upstream', 'yes');
        res.setHeader('Keep-Alive', 'timeout=7');
        res.setHeader('Set-Cookie', ['a=1', 'b=2']);
        res.end(`${req.method} ${req.url} ${body.length}`);
      });
    });
    upstream.on('connection', () => connections++);
    upstreamPort = await listenOnFreePort(upstream);
  });

  after(() => closeServer(upstream));

  it('proxies a GET, strips hop-by-hop fields and adds forwarding fields', async () => {
    const target = fixedTarget(upstreamPort);
    const { router, port } = await startRouter(target);

    const reply = await fetchText(port, {
      path: '/hello?x=1',
      headers: {
        Connection: 'keep-alive, X-Secret-Hop',
        'X-Secret-Hop': 'drop me',
        'Keep-Alive': 'timeout=9',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        'X-Forwarded-For': '10.9.8.7',
        'X-End-To-End': 'keep me',
      },
    });
    await router.close();

    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'GET /hello?x=1 0');
    assert.equal(reply.headers['x-upstream'], 'yes');
    assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
    // The router's own server announces its own keep-alive timeout.
    assert.notEqual(reply.headers['keep-alive'], 'timeout=7');
    assert.equal(reply.headers.via, '1.1 aegis');

    const sent = seen.at(-1)!.headers;
    assert.equal(sent['x-end-to-end'], 'keep me');
    for (const name of [
      'x-secret-hop',
      'keep-alive',
      'proxy-connection',
      'te',
    ]) {
      assert.equal(sent[name], undefined, `${name} must not be forwarded`);
    }
    assert.equal(sent.host, `${LOOPBACK}:${port}`);
    assert.equal(
      sent.forwarded,
      `for=${LOOPBACK};host="${LOOPBACK}:${port}";proto=http`,
    );
    assert.equal(sent['x-forwarded-for'], `10.9.8.7, ${LOOPBACK}`);
    assert.equal(sent['x-forwarded-host'], `${LOOPBACK}:${port}`);
    assert.equal(sent['x-forwarded-proto'], 'http');
    assert.equal(target.wakes, 1, 'wake() is called before proxying');
    assert.deepEqual(target.activity, ['open', 'close']);
  });

  it('proxies a POST body and its status unchanged', async () => {
    const { router, port } = await startRouter(fixedTarget(upstreamPort));

    const reply = await fetchText(port, {
      method: 'POST',
      path: '/submit',
      headers: { 'Content-Type': 'text/plain' },
      body: 'x'.repeat(100_000),
    });
    await router.close();

    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'POST /submit 100000');
    assert.equal(bodies.at(-1)!.length, 100_000);
    assert.equal(seen.at(-1)!.headers['content-type'], 'text/plain');
  });

  it('reuses upstream connections across requests', async () => {
    const { router, port } = await startRouter(fixedTarget(upstreamPort));
    const before = connections;

    for (let i = 0; i < 20; i++) {
      const reply = await fetchText(port, { path: `/n${i}` });
      assert.equal(reply.status, 200);
    }
    await router.close();

    const opened = connections - before;
    assert.ok(opened < 5, `20 requests opened ${opened} upstream connections`);
  });

  it('awaits wake() before it connects upstream', async () => {
    let woken = false;
    const target = {
      instanceId: 'slow-wake',
      wake: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        woken = true;
        return { host: LOOPBACK, port: upstreamPort };
      },
    };
    const { router, port } = await startRouter(target);
    const before = seen.length;
    upstream.once('connection', () =>
      assert.ok(woken, 'connected before wake'),
    );

    const reply = await fetchText(port, { path: '/after-wake' });
    await router.close();

    assert.equal(reply.status, 200);
    assert.equal(seen.length, before + 1);
  });

  it('answers 503 with Retry-After and the reason when wake() rejects', async () => {
    const target = {
      instanceId: 'stopped',
      wake: async (): Promise<never> => {
        throw new AegisError('VMM_EXITED', 'instance stopped is not running');
      },
    };
    const { router, listener, port } = await startRouter(target);

    const reply = await fetchText(port);
    await router.close();

    assert.equal(reply.status, 503);
    assert.ok(Number(reply.headers['retry-after']) > 0);
    assert.match(reply.body, /VMM_EXITED: instance stopped is not running/);
    assert.equal(listener.counters.wakeFailures, 1);
    assert.equal(listener.counters.unavailable, 1);
  });
});
