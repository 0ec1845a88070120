import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import {
  closeServer,
  ForwardStandIn,
  fetchText,
  fixedTarget,
  listenOnFreePort,
  startRouter,
  unusedPort,
} from './helpers.ts';

const servers: http.Server[] = [];
after(() => Promise.all(servers.map(closeServer)));

function answeringApp(onRequest = () => {}): http.Server {
  const app = http.createServer((req, res) => {
    onRequest();
    req.resume();
    req.on('end', () => res.end(`answered ${req.method}`));
  });
  servers.push(app);
  return app;
}

describe('retrying before any byte reaches the guest', () => {
  it('answers 503 with Retry-After within the bound when no app ever listens', async () => {
    // The stand-in accepts and resets, like QEMU's forward with no listener.
    const forward = new ForwardStandIn();
    const forwardPort = await listenOnFreePort(forward.server);
    const { router, listener, port } = await startRouter(
      fixedTarget(forwardPort),
      { retry: { timeoutMs: 1_000 } },
    );

    const startedMs = Date.now();
    const reply = await fetchText(port);
    const tookMs = Date.now() - startedMs;
    await router.close();
    await closeServer(forward.server);

    assert.equal(reply.status, 503);
    assert.ok(Number(reply.headers['retry-after']) > 0);
    assert.match(reply.body, /not accepting connections/);
    assert.ok(tookMs >= 900 && tookMs < 8_000, `took ${tookMs} ms`);
    assert.ok(forward.accepted > 2, 'the router retried');
    assert.ok(listener.counters.retries > 1);
  });

  it('reaches an app that starts listening behind the forward mid-wait', async () => {
    const forward = new ForwardStandIn();
    const forwardPort = await listenOnFreePort(forward.server);
    const { router, port } = await startRouter(fixedTarget(forwardPort));
    setTimeout(() => forward.answerWith(answeringApp()), 300);

    const reply = await fetchText(port, { method: 'POST', body: 'payload' });
    await router.close();
    await closeServer(forward.server);

    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'answered POST');
    assert.ok(forward.accepted > 1, 'earlier attempts were reset');
  });

  it('reaches an upstream that binds its port after refusing connections', async () => {
    const upstreamPort = await unusedPort();
    const { router, port } = await startRouter(fixedTarget(upstreamPort));
    const app = answeringApp();
    setTimeout(() => listenOnFreePort(app, upstreamPort), 300);

    const reply = await fetchText(port, { path: '/late' });
    await router.close();

    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'answered GET');
  });

  it('answers 502 and does not replay a request the app may have read', async () => {
    let calls = 0;
    const app = http.createServer((req) => {
      calls++;
      req.resume();
      req.on('end', () => req.socket.resetAndDestroy());
    });
    servers.push(app);
    const appPort = await listenOnFreePort(app);
    const { router, listener, port } = await startRouter(fixedTarget(appPort));

    const reply = await fetchText(port, { method: 'POST', body: 'once' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await router.close();

    assert.equal(reply.status, 502);
    assert.equal(calls, 1, 'the request reached the app exactly once');
    assert.equal(listener.counters.badGateway, 1);
    assert.equal(listener.counters.retries, 0);
  });

  it('skips the probation once the app answered in this boot, until a failure', async () => {
    // The forward resets 100 ms after accepting, inside the 200 ms
    // probation: a probed request is retried, an unprobed one is written
    // at once and then reset.
    const forward = new ForwardStandIn(100);
    const forwardPort = await listenOnFreePort(forward.server);
    const target = fixedTarget(forwardPort, 'boot-1');
    const { router, port } = await startRouter(target, {
      retry: { timeoutMs: 1_000 },
    });
    const app = http.createServer((req, res) => {
      req.resume();
      res.setHeader('connection', 'close');
      req.on('end', () => res.end('answered'));
    });
    servers.push(app);
    const get = () => fetchText(port).then((reply) => reply.status);

    forward.answerWith(app);
    assert.equal(await get(), 200, 'the app answers');
    forward.stopAnswering();
    assert.equal(await get(), 502, 'written at once, so not replayed');
    assert.equal(await get(), 503, 'probed again after the failure');
    forward.answerWith(app);
    assert.equal(await get(), 200);
    target.epoch = 'boot-2';
    forward.stopAnswering();
    assert.equal(await get(), 503, 'a new boot is probed again');
    await router.close();
    await closeServer(forward.server);
  });

  it('answers 504 when the upstream takes the request but never answers', async () => {
    const app = http.createServer(() => {});
    servers.push(app);
    const appPort = await listenOnFreePort(app);
    const { router, listener, port } = await startRouter(fixedTarget(appPort), {
      responseHeaderTimeoutMs: 300,
    });

    const reply = await fetchText(port);
    await router.close();

    assert.equal(reply.status, 504);
    assert.equal(listener.counters.gatewayTimeout, 1);
  });
});
