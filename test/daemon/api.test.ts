/**
 * The HTTP API over a real unix socket, with the in-memory stand-in for
 * the VM-backed manager (see helpers/memory-manager.ts for why).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestDaemon, type TestDaemon } from './helpers/daemon.ts';
import { call } from './helpers/http.ts';

describe('the API', () => {
  let t: TestDaemon;
  let socket: string;
  const post = (path: string, body?: unknown) =>
    call(socket, 'POST', path, body);

  before(async () => {
    t = await startTestDaemon();
    socket = t.daemon.paths.socket;
  });
  after(() => t.close());

  it('answers its version', async () => {
    const answer = await call(socket, 'GET', '/v1/version');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { version: '0.1.0', apiVersion: 'v1' });
  });

  it('creates an instance with every default filled in', async () => {
    const answer = await post('/v1/instances', {
      name: 'web',
      image: 'alpine:3.20',
      exposes: [
        '8080:7777',
        { hostPort: 8443, guestPort: 443, protocol: 'tcp' },
      ],
    });
    assert.equal(answer.status, 201);
    const { config, status, id } = answer.body;
    assert.match(id, /^[0-9a-f]{12}$/);
    assert.equal(status.state, 'created');
    assert.deepEqual(config.exposes, [
      {
        bindHost: '127.0.0.1',
        hostPort: 8080,
        guestPort: 7777,
        protocol: 'http',
      },
      {
        bindHost: '127.0.0.1',
        hostPort: 8443,
        guestPort: 443,
        protocol: 'tcp',
      },
    ]);
    assert.equal(config.memoryMib, 128);
    assert.equal(config.cpus, 1);
    assert.deepEqual(config.retry, {
      timeoutMs: 5000,
      initialBackoffMs: 10,
      maxBackoffMs: 250,
    });
    assert.deepEqual(config.idle, {
      pauseAfterMs: 60000,
      hibernateAfterMs: 300000,
      wakeOnIngress: true,
    });
    assert.equal(config.autoRemove, false);
  });

  it('generates a name when none is given', async () => {
    const answer = await post('/v1/instances', { image: 'alpine' });
    assert.equal(answer.status, 201);
    assert.match(answer.body.name, /^[a-z]+_[a-z]+$|^aegis-[0-9a-f]{6}$/);
  });

  it('refuses an unknown field, naming it', async () => {
    const answer = await post('/v1/instances', { image: 'a', memroyMib: 256 });
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, {
      error: {
        code: 'INVALID_ARGUMENT',
        message:
          'unknown field "memroyMib" in the request body; remove it ' +
          '(docs/openapi.yaml lists the fields each request takes)',
      },
    });
    const nested = await post('/v1/instances', {
      image: 'a',
      idle: { pauseAfter: 1 },
    });
    assert.match(nested.body.error.message, /unknown field "idle.pauseAfter"/);
  });

  it('refuses values out of bounds, naming the field and value', async () => {
    const answer = await post('/v1/instances', { image: 'a', memoryMib: 32 });
    assert.equal(answer.status, 400);
    assert.equal(
      answer.body.error.message,
      'field "memoryMib" is 32: it must be a whole number from 64 to 65536',
    );
    const cpus = await post('/v1/instances', { image: 'a', cpus: 1.5 });
    assert.match(cpus.body.error.message, /^field "cpus" is 1.5: it must be/);
    const missing = await post('/v1/instances', {});
    assert.equal(
      missing.body.error.message,
      'field "image" is missing from the request body; it must be a string',
    );
    const env = await post('/v1/instances', { image: 'a', env: ['=x'] });
    assert.match(env.body.error.message, /^field "env\[0\]" is "=x": it must/);
  });

  it('refuses bad ports and duplicate host ports', async () => {
    const bad = await post('/v1/instances', { image: 'a', exposes: ['80:0'] });
    assert.equal(bad.status, 400);
    assert.equal(
      bad.body.error.message,
      'invalid expose "80:0": guest port 0 is out of range; use 1-65535',
    );
    const object = await post('/v1/instances', {
      image: 'a',
      exposes: [{ hostPort: 70000, guestPort: 1 }],
    });
    assert.match(
      object.body.error.message,
      /^field "exposes\[0\].hostPort" is 70000: it must be a whole number/,
    );
    const twice = await post('/v1/instances', {
      image: 'a',
      exposes: ['9000:80', '0.0.0.0:9000:81/tcp'],
    });
    assert.equal(twice.status, 400);
    assert.match(twice.body.error.message, /both bind host port 9000/);
  });

  it('refuses a body that is not JSON, or not an object', async () => {
    const text = await post('/v1/instances', '{nope');
    assert.equal(text.status, 400);
    assert.match(
      text.body.error.message,
      /^the request body is not valid JSON/,
    );
    const list = await post('/v1/instances', [1]);
    assert.equal(
      list.body.error.message,
      'the request body must be a JSON object',
    );
  });

  it('refuses a taken name with CONFLICT', async () => {
    const answer = await post('/v1/instances', { name: 'web', image: 'a' });
    assert.equal(answer.status, 409);
    assert.equal(answer.body.error.code, 'CONFLICT');
  });

  it('refuses any change to an instance as IMMUTABLE', async () => {
    const fixed = {
      code: 'IMMUTABLE',
      message:
        'exposes are fixed at creation; create a new instance to change them',
    };
    for (const method of ['PATCH', 'PUT']) {
      const answer = await call(socket, method, '/v1/instances/web', {
        exposes: ['9090:80'],
      });
      assert.equal(answer.status, 409);
      assert.deepEqual(answer.body.error, fixed);
    }
    const sub = await call(socket, 'PUT', '/v1/instances/web/exposes', {});
    assert.equal(sub.status, 409);
    const viaStart = await post('/v1/instances/web/start', {
      exposes: ['9090:80'],
    });
    assert.equal(viaStart.status, 409);
    assert.deepEqual(viaStart.body.error, fixed);
    const memory = await call(socket, 'PATCH', '/v1/instances/web', {
      memoryMib: 256,
    });
    assert.equal(memory.body.error.code, 'IMMUTABLE');
  });

  it('lists, inspects by name or id prefix, and 404s the unknown', async () => {
    const list = await call(socket, 'GET', '/v1/instances');
    assert.equal(list.status, 200);
    const web = list.body.instances.find(
      (i: { name: string }) => i.name === 'web',
    );
    const byPrefix = await call(
      socket,
      'GET',
      `/v1/instances/${web.id.slice(0, 8)}`,
    );
    assert.equal(byPrefix.body.name, 'web');
    const missing = await call(socket, 'GET', '/v1/instances/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'NOT_FOUND');
  });

  it('starts, pauses, resumes and stops, with bounded timeouts', async () => {
    for (const [action, state] of [
      ['start', 'running'],
      ['pause', 'paused'],
      ['resume', 'running'],
      ['stop', 'stopped'],
    ]) {
      const answer = await post(`/v1/instances/web/${action}`);
      assert.equal(answer.status, 200, action);
      assert.equal(answer.body.status.state, state);
    }
    const timed = await post('/v1/instances/web/restart', { timeoutMs: 0 });
    assert.equal(timed.status, 200);
    const bad = await post('/v1/instances/web/stop', { timeoutMs: -1 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^field "timeoutMs" is -1/);
    const extra = await post('/v1/instances/web/pause', { now: true });
    assert.match(extra.body.error.message, /unknown field "now"/);
  });

  it('refuses unknown query parameters and unknown endpoints', async () => {
    const query = await call(socket, 'DELETE', '/v1/instances/web?froce=1');
    assert.equal(query.status, 400);
    assert.equal(
      query.body.error.message,
      'unknown query parameter "froce"; this endpoint takes: force',
    );
    const route = await call(socket, 'GET', '/v1/nothing');
    assert.equal(route.status, 404);
    const method = await call(socket, 'DELETE', '/v1/version');
    assert.match(
      method.body.error.message,
      /\/v1\/version does not take DELETE/,
    );
  });

  it('removes with force, and refuses a running instance without', async () => {
    await post('/v1/instances/web/start');
    const refused = await call(socket, 'DELETE', '/v1/instances/web');
    assert.equal(refused.status, 409);
    const removed = await call(socket, 'DELETE', '/v1/instances/web?force=1');
    assert.equal(removed.status, 204);
    const gone = await call(socket, 'GET', '/v1/instances/web');
    assert.equal(gone.status, 404);
  });

  it('waits for the workload and answers its exit code', async () => {
    const created = await post('/v1/instances', {
      name: 'job',
      image: 'a',
      cmd: ['exit', '3'],
      start: true,
    });
    assert.equal(created.status, 201);
    const answer = await call(socket, 'GET', '/v1/instances/job/wait');
    assert.deepEqual(answer.body, { exitCode: 3 });
  });
});

describe('an API bug', () => {
  it('answers 500 INTERNAL without its details', async () => {
    const t = await startTestDaemon(undefined, ({ store }) => {
      const { MemoryManager } = memoryModule;
      const manager = new MemoryManager(store);
      manager.list = () => {
        throw new Error('secret internal detail at /home/x');
      };
      return manager;
    });
    try {
      const answer = await call(t.daemon.paths.socket, 'GET', '/v1/instances');
      assert.equal(answer.status, 500);
      assert.deepEqual(answer.body.error, {
        code: 'INTERNAL',
        message: 'internal error in aegisd; its log has the details',
      });
    } finally {
      await t.close();
    }
  });
});

const memoryModule = await import('./helpers/memory-manager.ts');
