import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { socketAnswers } from '../../src/daemon/api/listen.ts';
import { resolvePaths } from '../../src/daemon/paths.ts';
import { startTestDaemon, tempHome } from './helpers/daemon.ts';

const FIXTURE = new URL('./fixtures/memory-daemon.ts', import.meta.url);

describe('the daemon', () => {
  it('keeps its home 0700 and its socket 0600', async () => {
    const t = await startTestDaemon();
    try {
      const home = await stat(t.home);
      const socket = await stat(t.daemon.paths.socket);
      assert.ok(socket.isSocket());
      assert.equal(home.mode & 0o777, 0o700);
      assert.equal(socket.mode & 0o777, 0o600);
    } finally {
      await t.close();
    }
  });

  it('refuses to start while another daemon holds the home', async () => {
    const t = await startTestDaemon();
    try {
      await assert.rejects(startTestDaemon(t.home), {
        code: 'CONFLICT',
        message: new RegExp(
          `^aegisd \\(pid ${process.pid}\\) is already running for `,
        ),
      });
      assert.ok(await socketAnswers(t.daemon.paths.socket));
    } finally {
      await t.close();
    }
  });

  it('replaces a socket path and pid file left by a dead daemon', async () => {
    const home = await tempHome();
    const paths = resolvePaths({ AEGIS_HOME: home });
    await mkdir(home, { recursive: true });
    await writeFile(paths.socket, '');
    await writeFile(paths.pidFile, '999999999\n');
    const t = await startTestDaemon(home);
    try {
      assert.ok(await socketAnswers(paths.socket));
    } finally {
      await t.close();
      await rm(home, { recursive: true, force: true });
    }
  });

  it('closes the manager and cleans up on SIGTERM, then exits 0', async () => {
    const home = await tempHome();
    const paths = resolvePaths({ AEGIS_HOME: home });
    const child = spawn(process.execPath, [FIXTURE.pathname], {
      env: { ...process.env, AEGIS_HOME: home },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    try {
      while (!(await socketAnswers(paths.socket))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
      assert.equal(output, 'manager closed\n');
      await assert.rejects(stat(paths.socket), { code: 'ENOENT' });
      await assert.rejects(stat(paths.pidFile), { code: 'ENOENT' });
    } finally {
      child.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
    }
  });

  it('stops even while an exec stream is open', async () => {
    const t = await startTestDaemon();
    await t.client.createInstance({ name: 'x', image: 'a', start: true });
    const spec = { argv: ['sleep'], tty: false, stdin: false };
    const { socket } = await t.client.openExec('x', spec);
    const closed = once(socket, 'close');
    await t.close();
    await closed;
    assert.deepEqual(t.manager.lastExec.signals, [1]);
  });

  it('stops when asked through the API', async () => {
    const t = await startTestDaemon();
    await t.client.shutdown();
    await t.daemon.stopped;
    assert.equal(t.manager.closed, true);
    assert.equal(await socketAnswers(t.daemon.paths.socket), false);
    await t.close();
  });

  it('refuses a home whose socket path is too long', () => {
    const home = path.join('/tmp', 'x'.repeat(100));
    assert.throws(() => resolvePaths({ AEGIS_HOME: home }), {
      code: 'INVALID_ARGUMENT',
      message: /too long for a unix socket path/,
    });
  });
});
