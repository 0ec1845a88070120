/**
 * The real CLI against a real daemon in this process, whose manager is
 * the in-memory stand-in for the VM-backed one (see
 * ../daemon/helpers/memory-manager.ts for why).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../daemon/helpers/daemon.ts';
import { aegis } from './helpers.ts';

describe('the CLI, with a daemon', () => {
  let t: TestDaemon;
  const cli = (...args: string[]) => aegis(t.home, args);

  before(async () => {
    t = await startTestDaemon();
  });
  after(() => t.close());

  it('creates and starts an instance, printing its id', async () => {
    const result = await cli(
      'instance',
      'start',
      '--image',
      'alpine:3.20',
      '--name',
      'web',
      '--expose',
      '8080:7777',
      '--expose',
      '0.0.0.0:8443:443/tcp',
      '--memory',
      '256',
      '--idle-pause',
      '30s',
      '--idle-hibernate',
      'off',
      '--no-wake',
      '-e',
      'A=1',
      '--',
      'serve',
      '--port',
      '7777',
    );
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    const instance = t.manager.get('web');
    assert.equal(result.stdout, `${instance.id}\n`);
    assert.deepEqual(instance.config.cmd, ['serve', '--port', '7777']);
    assert.equal(instance.config.entrypoint, null);
    assert.equal(instance.config.memoryMib, 256);
    assert.deepEqual(instance.config.env, ['A=1']);
    assert.deepEqual(instance.config.idle, {
      pauseAfterMs: 30_000,
      hibernateAfterMs: null,
      wakeOnIngress: false,
    });
    assert.equal(instance.status.state, 'running');
  });

  it('lists as a table, as ids, and as JSON lines', async () => {
    const table = await cli('instance', 'ls');
    const [header, row] = table.stdout.trimEnd().split('\n');
    assert.match(
      header!,
      /^ID +NAME +IMAGE +STATE +ACTIVITY +NEXT +EXPOSES +CREATED$/,
    );
    assert.match(
      row!,
      new RegExp(
        '^[0-9a-f]{12} +web +alpine:3.20 +running +- +- +' +
          '127.0.0.1:8080:7777/http, 0.0.0.0:8443:443/tcp +' +
          '(just now|\\d+ seconds? ago)$',
      ),
    );
    const quiet = await cli('instance', 'ls', '-q');
    assert.equal(quiet.stdout, `${t.manager.get('web').id}\n`);
    const json = await cli('instance', 'ls', '--format', 'json');
    assert.equal(JSON.parse(json.stdout).name, 'web');
    const bad = await cli('instance', 'ls', '--format', 'yaml');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^aegis: INVALID_ARGUMENT: option '--format/);
  });

  it('inspects by name or id prefix', async () => {
    const id = t.manager.get('web').id;
    const result = await cli('instance', 'inspect', id.slice(0, 5));
    assert.equal(JSON.parse(result.stdout)[0].name, 'web');
  });

  it('stops and starts again with the stored configuration', async () => {
    const stop = await cli('instance', 'stop', '-t', '1', 'web');
    assert.deepEqual([stop.code, stop.stdout], [0, 'web\n']);
    assert.equal(t.manager.get('web').status.state, 'stopped');
    const start = await cli('instance', 'start', 'web');
    assert.deepEqual([start.code, start.stdout], [0, 'web\n']);
    assert.equal(t.manager.get('web').status.state, 'running');
  });

  it('refuses new exposes or settings for an existing instance', async () => {
    const exposes = await cli('instance', 'start', 'web', '--expose', '9:9');
    assert.equal(exposes.code, 4);
    assert.equal(
      exposes.stderr,
      'aegis: IMMUTABLE: exposes are fixed at creation; create a new ' +
        'instance to change them\n',
    );
    const memory = await cli('instance', 'start', 'web', '--memory', '512');
    assert.equal(memory.code, 4);
    assert.match(memory.stderr, /^aegis: IMMUTABLE: --memory can only be set/);
  });

  it('reports a taken name and an unknown instance by code', async () => {
    const taken = await cli(
      'instance',
      'start',
      '--image',
      'a',
      '--name',
      'web',
    );
    assert.equal(taken.code, 4);
    assert.match(taken.stderr, /^aegis: CONFLICT: the name "web" is already/);
    const missing = await cli('instance', 'stop', 'ghost');
    assert.equal(missing.code, 3);
    assert.equal(
      missing.stderr,
      'aegis: NOT_FOUND: no instance named "ghost" or with an id starting ' +
        '"ghost"; list instances with `aegis instance ls`\n',
    );
  });

  it('pauses, resumes and prints logs to stdout and stderr', async () => {
    assert.equal((await cli('instance', 'pause', 'web')).code, 0);
    assert.equal(t.manager.get('web').status.state, 'paused');
    assert.equal((await cli('instance', 'resume', 'web')).code, 0);
    const id = t.manager.get('web').id;
    t.manager.print(id, 'stdout', 'out 1');
    t.manager.print(id, 'stderr', 'err 1');
    t.manager.print(id, 'stdout', 'out 2');
    const logs = await cli('logs', 'web');
    assert.deepEqual([logs.stdout, logs.stderr], ['out 1\nout 2\n', 'err 1\n']);
    const tail = await cli('instance', 'logs', '--tail', '1', 'web');
    assert.equal(tail.stdout, 'out 2\n');
  });

  it('execs, with the command exit code as its own', async () => {
    const echo = await cli('exec', 'web', '--', 'echo', 'hi');
    assert.deepEqual(
      [echo.code, echo.stdout, echo.stderr],
      [0, 'hi\n', 'to stderr\n'],
    );
    const failing = await cli('exec', 'web', '--', 'exit', '7');
    assert.equal(failing.code, 7);
    const piped = await aegis(
      t.home,
      ['exec', '-i', 'web', '--', 'cat'],
      'a\nb\n',
    );
    assert.deepEqual([piped.code, piped.stdout], [0, 'a\nb\n']);
    assert.equal(t.manager.lastExec.spec?.stdin, true);
    const missing = await cli('exec', 'web', '--', 'nope');
    assert.equal(missing.code, 6);
    assert.equal(
      missing.stderr,
      'aegis: GUEST_ERROR: cannot run "nope": not found\n',
    );
  });

  it('runs to completion with the workload exit code and --rm', async () => {
    const run = await cli('run', '--name', 'job', 'alpine', '--', 'exit', '3');
    assert.deepEqual(
      [run.code, run.stdout, run.stderr],
      [3, '', 'exiting with 3\n'],
    );
    assert.equal(t.manager.get('job').status.state, 'exited');
    const ls = await cli('instance', 'ls');
    assert.match(ls.stdout, /job +alpine +exited \(3\)/);

    const rm = await cli(
      'run',
      '--rm',
      '--name',
      'gone',
      'alpine',
      '--',
      'lines',
      '500',
    );
    assert.equal(rm.code, 0);
    assert.equal(rm.stdout.split('\n').length, 501);
    assert.throws(() => t.manager.get('gone'), { code: 'NOT_FOUND' });
  });

  it('removes, refusing a running instance without -f', async () => {
    const refused = await cli('instance', 'rm', 'web');
    assert.equal(refused.code, 4);
    const removed = await cli('instance', 'rm', '-f', 'web', 'job');
    assert.deepEqual([removed.code, removed.stdout], [0, 'web\njob\n']);
  });

  it('reports the daemon status, then stops it', async () => {
    const status = await cli('daemon', 'status');
    assert.equal(status.code, 0);
    assert.match(
      status.stdout,
      new RegExp(`^aegisd is running \\(pid ${process.pid}, version 0.1.0`),
    );
    const stop = await cli('daemon', 'stop');
    assert.deepEqual([stop.code, stop.stdout], [0, 'aegisd stopped\n']);
    await t.daemon.stopped;
    assert.equal(t.manager.closed, true);
  });
});
