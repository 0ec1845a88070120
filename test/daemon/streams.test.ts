/**
 * Logs, wait and exec over a real socket, with the in-memory stand-in for
 * the VM-backed manager (see helpers/memory-manager.ts for why).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  encodeFrame,
  encodeResize,
  FrameDecoder,
  FrameType,
} from '../../src/daemon/api/exec-frames.ts';
import type { Instance } from '../../src/daemon/model.ts';
import { startTestDaemon, type TestDaemon } from './helpers/daemon.ts';
import { call } from './helpers/http.ts';

describe('streams', () => {
  let t: TestDaemon;
  let web: Instance;

  before(async () => {
    t = await startTestDaemon();
    web = await t.client.createInstance({
      name: 'web',
      image: 'a',
      start: true,
    });
  });
  after(() => t.close());

  it('gives a slow log reader every line, in order', async () => {
    const count = 20_000;
    const padding = 'x'.repeat(200);
    for (let n = 1; n <= count; n++) {
      t.manager.print(web.id, 'stdout', `${n} ${padding}`);
    }
    let seen = 0;
    for await (const line of t.client.logs('web', {
      follow: false,
      tail: null,
    })) {
      seen += 1;
      assert.equal(line.seq, seen);
      if (seen % 2_000 === 0) await sleep(20);
    }
    assert.equal(seen, count);
  });

  it('tails, and follows until the workload exits', async () => {
    const tail = [];
    for await (const line of t.client.logs('web', { follow: false, tail: 2 })) {
      tail.push(line.seq);
    }
    assert.deepEqual(tail, [19_999, 20_000]);

    const followed: string[] = [];
    const following = (async () => {
      for await (const line of t.client.logs('web', {
        follow: true,
        tail: 0,
      })) {
        followed.push(line.line);
      }
    })();
    await sleep(50);
    t.manager.print(web.id, 'stderr', 'late line');
    await sleep(20);
    t.manager.exit(web.id, 0);
    await following;
    assert.deepEqual(followed, ['late line']);
  });

  it('refuses a bad tail before streaming', async () => {
    const answer = await call(
      t.daemon.paths.socket,
      'GET',
      '/v1/instances/web/logs?tail=-1',
    );
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /"tail" is "-1"; use a whole/);
  });

  it('runs exec over the upgrade and returns the exit status', async () => {
    const { socket, head } = await t.client.openExec('web', {
      argv: ['echo', 'hello'],
      tty: false,
      stdin: false,
    });
    const frames = await readFrames(socket, head);
    assert.deepEqual(frames.stdout, 'hello\n');
    assert.deepEqual(frames.stderr, 'to stderr\n');
    assert.deepEqual(frames.exit, { exitCode: 0 });
  });

  it('carries stdin, resizes and signals to the process', async () => {
    const { socket, head } = await t.client.openExec('web', {
      argv: ['cat'],
      tty: true,
      rows: 24,
      cols: 80,
      stdin: true,
    });
    const reading = readFrames(socket, head);
    socket.write(encodeResize(50, 132));
    socket.write(encodeFrame(FrameType.STDIN, Buffer.from('ping\n')));
    socket.write(encodeFrame(FrameType.STDIN, Buffer.alloc(0)));
    const frames = await reading;
    assert.equal(frames.stdout, 'ping\n');
    assert.deepEqual(frames.exit, { exitCode: 0 });
    assert.deepEqual(t.manager.lastExec.resizes, [[50, 132]]);
    assert.equal(t.manager.lastExec.spec?.rows, 24);

    const sleeper = await t.client.openExec('web', {
      argv: ['sleep'],
      tty: false,
      stdin: false,
    });
    const ending = readFrames(sleeper.socket, sleeper.head);
    sleeper.socket.write(encodeFrame(FrameType.SIGNAL, Buffer.of(15)));
    assert.deepEqual((await ending).exit, { signal: 15 });
  });

  it('hangs up the process when the client goes away', async () => {
    const { socket } = await t.client.openExec('web', {
      argv: ['sleep'],
      tty: false,
      stdin: false,
    });
    socket.destroy();
    while (t.manager.lastExec.signals.length === 0) await sleep(5);
    assert.deepEqual(t.manager.lastExec.signals, [1]);
  });

  it('answers a failed exec as a plain HTTP error', async () => {
    await assert.rejects(
      t.client.openExec('web', { argv: ['nope'], tty: false, stdin: false }),
      { code: 'GUEST_ERROR', message: 'cannot run "nope": not found' },
    );
    await assert.rejects(
      t.client.openExec('web', { argv: [], tty: false, stdin: false }),
      { code: 'INVALID_ARGUMENT', message: /field "argv" is \[\]/ },
    );
    await assert.rejects(
      t.client.openExec('ghost', { argv: ['echo'], tty: false, stdin: false }),
      { code: 'NOT_FOUND' },
    );
  });

  it('refuses exec without the upgrade', async () => {
    const answer = await call(
      t.daemon.paths.socket,
      'POST',
      '/v1/instances/web/exec',
      {
        argv: ['echo'],
      },
    );
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /exec needs an HTTP upgrade/);
  });

  it('refuses an upgrade to another protocol or path', async () => {
    const status = await new Promise<number>((resolve) => {
      const req = http.request({
        socketPath: t.daemon.paths.socket,
        method: 'GET',
        path: '/v1/version',
        headers: { connection: 'Upgrade', upgrade: 'websocket' },
      });
      req.on('response', (res) => resolve(res.statusCode!));
      req.end();
    });
    assert.equal(status, 404);
  });
});

interface Collected {
  stdout: string;
  stderr: string;
  exit?: unknown;
}

function readFrames(socket: Socket, head: Buffer): Promise<Collected> {
  const decoder = new FrameDecoder();
  const collected: Collected = { stdout: '', stderr: '' };
  const take = (chunk: Buffer) => {
    for (const { type, payload } of decoder.push(chunk)) {
      if (type === FrameType.STDOUT) collected.stdout += payload;
      if (type === FrameType.STDERR) collected.stderr += payload;
      if (type === FrameType.EXIT) collected.exit = JSON.parse(`${payload}`);
    }
  };
  take(head);
  socket.on('data', take);
  return new Promise((resolve) => socket.on('close', () => resolve(collected)));
}
