/**
 * Scale to zero end to end: idle instances pause, then hibernate with no
 * VMM process left, and wake on the next connection with their memory and
 * a correct clock; daemon restarts and dead VMMs lose nothing they should
 * keep. Idle periods are short here; the defaults are minutes.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Instance, InstanceState } from '../../src/daemon/model.ts';
import { findFreePort } from '../../src/vmm/ports.ts';
import { Aegis, vmmPids } from './helpers.ts';

const IMAGE = 'aegis-demo:latest';

// Counts in memory and shows the count over HTTP. A cold boot would start
// again from 1, so a count that only grows proves the memory was kept.
// The file is replaced by a rename: rewritten in place, httpd could send
// its old length and then a truncated body.
const COUNTER = [
  'sh',
  '-c',
  'i=0; while true; do i=$((i+1)); echo $i > /www/count.new;' +
    ' mv /www/count.new /www/count.txt; sleep 0.2; done' +
    ' & exec httpd -f -p 7777 -h /www',
];

describe('scale to zero, end to end', () => {
  const aegis = new Aegis();

  before(async () => {
    await aegis.loadDemo();
  });

  after(async () => {
    await aegis.dispose();
  });

  async function startCounter(name: string, idle: string[]): Promise<number> {
    const port = await findFreePort();
    await aegis.ok([
      'instance',
      'start',
      '--image',
      IMAGE,
      '--name',
      name,
      '--expose',
      `${port}:7777`,
      ...idle,
      '--',
      ...COUNTER,
    ]);
    return port;
  }

  async function waitForState(name: string, state: InstanceState) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const instance = await aegis.inspect(name);
      if (instance.status.state === state) return instance;
      if (Date.now() > deadline) {
        assert.fail(`${name} is ${instance.status.state}, not ${state}`);
      }
      await sleep(200);
    }
  }

  /** Waits until no wake or boot is under way. */
  async function waitForSettled(name: string) {
    for (let attempt = 0; ; attempt++) {
      const instance = await aegis.inspect(name);
      if (!['starting', 'stopping'].includes(instance.status.state)) {
        return instance;
      }
      if (attempt > 300) assert.fail(`${name} stays ${instance.status.state}`);
      await sleep(200);
    }
  }

  async function listInstances() {
    const text = await aegis.ok(['instance', 'ls', '--format', 'json']);
    return text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Instance);
  }

  async function count(port: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`http://127.0.0.1:${port}/count.txt`);
      const text = await response.text();
      if (response.status === 200 && /^\d+\n$/.test(text)) return Number(text);
      if (attempt > 50) assert.fail(`no count: ${response.status} ${text}`);
      await sleep(100);
    }
  }

  async function clockSkewS(name: string): Promise<number> {
    const beforeS = Math.floor(Date.now() / 1000);
    const guestS = Number(await aegis.ok(['exec', name, '--', 'date', '+%s']));
    const afterS = Math.ceil(Date.now() / 1000);
    return Math.max(0, beforeS - guestS, guestS - afterS);
  }

  it('goes running, paused, hibernated; ls shows each; no VMM is left', async () => {
    await startCounter('sleepy', [
      '--idle-pause',
      '1s',
      '--idle-hibernate',
      '2s',
    ]);
    const running = await aegis.inspect('sleepy');
    assert.equal(running.status.state, 'running');
    assert.notEqual(running.status.nextIdleStepAt, null);
    await waitForState('sleepy', 'paused');
    assert.match(
      await aegis.ok(['instance', 'ls']),
      /sleepy +aegis-demo\S* +paused/,
    );
    const hibernated = await waitForState('sleepy', 'hibernated');
    assert.match(
      await aegis.ok(['instance', 'ls']),
      /sleepy +aegis-demo\S* +hibernated/,
    );
    assert.equal(hibernated.status.vmmPid, null);
    assert.deepEqual(vmmPids(hibernated.id), []);
  });

  it('answers when paused and when hibernated, with memory and clock intact', async () => {
    const port = await startCounter('counter', [
      '--idle-pause',
      '1s',
      '--idle-hibernate',
      '2s',
    ]);
    const first = await count(port);
    await waitForState('counter', 'paused');
    const afterPause = await count(port);
    assert.ok(afterPause >= first, `count went from ${first} to ${afterPause}`);
    await waitForState('counter', 'hibernated');
    const afterHibernation = await count(port);
    assert.ok(
      afterHibernation >= afterPause,
      `count went from ${afterPause} to ${afterHibernation}: memory lost`,
    );
    assert.ok((await clockSkewS('counter')) <= 1, 'guest clock is off');
  });

  it('answers requests that race the hibernation, losing none', async () => {
    const port = await startCounter('racer', [
      '--idle-pause',
      'off',
      '--idle-hibernate',
      '1s',
    ]);
    const restoresBefore = restoreLines(aegis.home);
    // The hibernation starts a second after each answer and takes about
    // 15 ms: sweeping the next request's arrival across that window lands
    // some of them while the snapshot is being written.
    for (let offsetMs = -10; offsetMs <= 40; offsetMs += 2) {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 200, `at ${offsetMs} ms`);
      await response.text();
      await sleep(1_000 + offsetMs);
    }
    assert.ok(restoreLines(aegis.home) > restoresBefore, 'never hibernated');
    await aegis.ok(['instance', 'rm', '-f', 'racer']);
  });

  it('counts an explicit resume as activity', async () => {
    await waitForState('sleepy', 'hibernated');
    const resumedAt = Date.now();
    await aegis.ok(['instance', 'resume', 'sleepy']);
    const { status } = await aegis.inspect('sleepy');
    assert.ok(Date.parse(status.lastActivityAt!) >= resumedAt - 1);
    assert.ok(Date.parse(status.nextIdleStepAt!) > resumedAt);
  });

  it('restores once for 200 concurrent first requests, and answers all', async () => {
    await waitForState('counter', 'hibernated');
    const restoresBefore = restoreLines(aegis.home);
    const port = (await aegis.inspect('counter')).config.exposes[0]!.hostPort;
    const statuses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/count.txt`);
        await response.text();
        return response.status;
      }),
    );
    assert.deepEqual(
      statuses.filter((status) => status !== 200),
      [],
      'some requests were not answered',
    );
    assert.equal(restoreLines(aegis.home) - restoresBefore, 1);
  });

  it('stays running while a guest lease holds it, and pauses once released', async () => {
    await startCounter('leased', [
      '--idle-pause',
      '1s',
      '--idle-hibernate',
      'off',
    ]);
    await aegis.ok([
      'exec',
      'leased',
      '--',
      'sh',
      '-c',
      'echo 600 > /run/aegis/leases/job',
    ]);
    await sleep(4_000);
    assert.equal((await aegis.inspect('leased')).status.state, 'running');
    await aegis.ok(['exec', 'leased', '--', 'rm', '/run/aegis/leases/job']);
    await waitForState('leased', 'paused');
  });

  it('cold-boots when a snapshot cannot be restored, and says why', async () => {
    const counter = await waitForState('counter', 'hibernated');
    const state = path.join(
      aegis.home,
      'instances',
      counter.id,
      'run',
      'state',
    );
    writeFileSync(state, 'not a snapshot');
    const response = await getRoot(counter);
    assert.equal(response.status, 200);
    assert.equal((await aegis.inspect('counter')).status.state, 'running');
    assert.match(
      readFileSync(path.join(aegis.home, 'aegisd.log'), 'utf8'),
      /snapshot could not be restored; booting from the disks/,
    );
  });

  it('loses nothing across a graceful daemon restart', async () => {
    const port = await startCounter('steady', ['--idle-pause', 'off']);
    const before = await count(port);
    const instances = await listInstances();
    await aegis.ok(['daemon', 'stop']);
    await aegis.ok(['daemon', 'start']);
    assert.equal((await aegis.inspect('steady')).status.state, 'hibernated');
    const after = await count(port);
    assert.ok(after > before, `count went from ${before} to ${after}`);
    for (const instance of instances) {
      const response = await getRoot(instance);
      assert.equal(response.status, 200, `${instance.name} does not answer`);
    }
  });

  it('loses nothing when the daemon is killed with kill -9', async () => {
    const port = (await aegis.inspect('steady')).config.exposes[0]!.hostPort;
    const before = await count(port);
    const vmmPid = (await aegis.inspect('steady')).status.vmmPid;
    const daemonPid = Number(
      readFileSync(path.join(aegis.home, 'aegisd.pid'), 'utf8'),
    );
    process.kill(daemonPid, 'SIGKILL');
    await sleep(500);
    await aegis.ok(['daemon', 'start']);
    const steady = await aegis.inspect('steady');
    assert.equal(steady.status.state, 'running');
    assert.equal(steady.status.vmmPid, vmmPid, 'the VM was not re-attached');
    const after = await count(port);
    assert.ok(after > before, `count went from ${before} to ${after}`);
    const sleepy = await waitForState('sleepy', 'hibernated');
    const woken = await getRoot(sleepy);
    assert.equal(woken.status, 200, 'a hibernated instance was lost');
  });

  it('records a VMM killed while running or paused as failed, and answers 503', async () => {
    for (const pausedFirst of [false, true]) {
      const name = pausedFirst ? 'doomed-paused' : 'doomed-running';
      const port = await startCounter(name, ['--idle-pause', 'off']);
      if (pausedFirst) await aegis.ok(['instance', 'pause', name]);
      const { status } = await aegis.inspect(name);
      process.kill(status.vmmPid!, 'SIGKILL');
      const failed = await waitForState(name, 'failed');
      assert.match(failed.status.reason ?? '', /SIGKILL/);
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 503);
    }
  });

  it('ends a wake whose VMM is killed in a documented state', async () => {
    const port = await startCounter('woken', [
      '--idle-pause',
      '1s',
      '--idle-hibernate',
      '1s',
    ]);
    const { id } = await waitForState('woken', 'hibernated');
    const request = fetch(`http://127.0.0.1:${port}/`).then((r) => r.status);
    const deadline = Date.now() + 30_000;
    let killed = false;
    while (!killed && Date.now() < deadline) {
      for (const pid of vmmPids(id)) {
        process.kill(pid, 'SIGKILL');
        killed = true;
      }
      await sleep(2);
    }
    assert.ok(killed, 'no VMM appeared for the wake');
    assert.ok([200, 502, 503].includes(await request));
    // The restore falls back to a cold boot, which may itself have been
    // the process killed: either way the instance is not left half-way,
    // and one that says it runs has a live VMM.
    const { status } = await waitForSettled('woken');
    const live = ['running', 'paused'].includes(status.state);
    assert.ok(live || ['hibernated', 'failed'].includes(status.state));
    assert.deepEqual(vmmPids(id), live ? [status.vmmPid] : []);
  });
});

/** GET / through the instance's first exposed port. */
function getRoot(instance: Instance): Promise<Response> {
  return fetch(`http://127.0.0.1:${instance.config.exposes[0]!.hostPort}/`);
}

function restoreLines(home: string): number {
  const log = readFileSync(path.join(home, 'aegisd.log'), 'utf8');
  return log.split('\n').filter((line) => line.includes('"msg":"restored"'))
    .length;
}
