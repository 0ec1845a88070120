import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import type { Instance } from '../../src/daemon/model.ts';
import { SCHEMA_VERSION } from '../../src/daemon/store/schema.ts';
import { InstanceStore } from '../../src/daemon/store/store.ts';
import { AegisError } from '../../src/errors.ts';
import { tempHome } from './helpers/daemon.ts';

function instance(id: string, name: string): Instance {
  return {
    id,
    name,
    createdAt: new Date().toISOString(),
    config: {
      image: 'alpine:3.20',
      imageDigest: `sha256:${'1'.repeat(64)}`,
      entrypoint: null,
      cmd: ['echo', 'hi'],
      env: ['A=1'],
      memoryMib: 128,
      cpus: 1,
      exposes: [
        {
          bindHost: '127.0.0.1',
          hostPort: 8080,
          guestPort: 80,
          protocol: 'http',
        },
      ],
      retry: { timeoutMs: 5000, initialBackoffMs: 10, maxBackoffMs: 250 },
      idle: {
        pauseAfterMs: 60000,
        hibernateAfterMs: null,
        wakeOnIngress: true,
      },
      autoRemove: false,
    },
    status: {
      state: 'created',
      exitCode: null,
      reason: null,
      startedAt: null,
      finishedAt: null,
      lastActivityAt: null,
      nextIdleStepAt: null,
      vmmPid: null,
    },
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AegisError);
    return error.code;
  }
  return 'no error';
}

describe('InstanceStore', () => {
  let dir: string;
  let file: string;

  before(async () => {
    dir = await tempHome();
    file = path.join(dir, 'state.db');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps instances across a reopen, config and status intact', () => {
    const web = instance('aaaaaaaaaaaa', 'web');
    const store = new InstanceStore(file);
    store.insert(web);
    store.updateStatus(web.id, { ...web.status, state: 'running' });
    store.close();

    const reopened = new InstanceStore(file);
    const found = reopened.get(web.id)!;
    assert.deepEqual(found.config, web.config);
    assert.equal(found.status.state, 'running');
    assert.deepEqual(
      reopened.list().map((i) => i.name),
      ['web'],
    );
    reopened.close();
  });

  it('finds by id, name, or a unique id prefix', () => {
    const store = new InstanceStore(file);
    store.insert(instance('abc000000001', 'api'));
    store.insert(instance('abc000000002', 'db'));
    assert.equal(store.resolve('web').id, 'aaaaaaaaaaaa');
    assert.equal(store.resolve('abc000000002').name, 'db');
    assert.equal(store.resolve('aa').name, 'web');
    assert.equal(
      codeOf(() => store.resolve('abc')),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      codeOf(() => store.resolve('nope')),
      'NOT_FOUND',
    );
    assert.equal(
      codeOf(() => store.resolve('f')),
      'NOT_FOUND',
    );
    store.close();
  });

  it('refuses a second instance with a taken name, as CONFLICT', () => {
    const store = new InstanceStore(file);
    assert.throws(
      () => store.insert(instance('bbbbbbbbbbbb', 'web')),
      (error: AegisError) =>
        error.code === 'CONFLICT' &&
        /"web" is already in use/.test(error.message),
    );
    assert.equal(store.get('bbbbbbbbbbbb'), undefined);
    store.close();
  });

  it('rolls a failed transaction back whole', () => {
    const store = new InstanceStore(file);
    assert.throws(() =>
      store.transaction(() => {
        store.insert(instance('cccccccccccc', 'cache'));
        store.insert(instance('dddddddddddd', 'web'));
      }),
    );
    assert.equal(store.getByName('cache'), undefined);
    store.close();
  });

  it('deletes, and says whether there was anything to delete', () => {
    const store = new InstanceStore(file);
    assert.equal(store.delete('abc000000001'), true);
    assert.equal(store.delete('abc000000001'), false);
    assert.equal(
      codeOf(() =>
        store.updateStatus('abc000000001', instance('x', 'y').status),
      ),
      'NOT_FOUND',
    );
    store.close();
  });

  it('records its schema version and refuses a newer database', async () => {
    const raw = new DatabaseSync(file);
    const { user_version } = raw.prepare('PRAGMA user_version').get() as {
      user_version: number;
    };
    assert.equal(user_version, SCHEMA_VERSION);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(
      () => new InstanceStore(file),
      (error: AegisError) =>
        error.code === 'STATE_UNREADABLE' &&
        error.message.includes(`schema version ${SCHEMA_VERSION + 1}`),
    );
  });

  it('reports a file that is not a database as STATE_UNREADABLE', () => {
    assert.equal(
      codeOf(() => new InstanceStore(path.join(dir, 'missing', 'x.db'))),
      'STATE_UNREADABLE',
    );
  });
});
