/**
 * Instances end to end: the CLI, the daemon, the router and real VMs, as
 * a user drives them. One daemon and a few instances are shared by the
 * tests, in order.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guestDir } from '../../src/guest/artifacts.ts';
import { findFreePort } from '../../src/vmm/ports.ts';
import { Aegis, guestTestServer } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const IMAGE = 'aegis-demo:latest';
const MIB = 1024 * 1024;

describe('instances, end to end', () => {
  const aegis = new Aegis();

  before(async () => {
    await aegis.loadDemo();
  });

  after(async () => {
    await aegis.dispose();
  });

  it("runs the design note's line as written", async () => {
    await aegis.ok([
      'instance',
      'start',
      '--image',
      IMAGE,
      '--name',
      'my-instance',
      '--expose',
      '8080:7777',
    ]);
    const response = await fetch('http://127.0.0.1:8080/');
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Hello from an Aegis microVM/);
  });

  it('answers 503 while nothing listens, then reaches the app once it binds', async () => {
    const port = await findFreePort();
    // Its guest port 9000 has no listener yet.
    await aegis.ok([
      'instance',
      'start',
      '--image',
      IMAGE,
      '--name',
      'binds-later',
      '--expose',
      `${port}:9000`,
    ]);
    const before = await aegis.inspect('binds-later');
    const refused = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);

    await aegis.ok([
      'exec',
      'binds-later',
      '--',
      'httpd',
      '-p',
      '9000',
      '-h',
      '/www',
    ]);
    const answered = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(answered.status, 200);
    const after = await aegis.inspect('binds-later');
    assert.equal(after.status.startedAt, before.status.startedAt);
    assert.equal(after.status.vmmPid, before.status.vmmPid);
  });

  it('resumes a paused instance for a request', async () => {
    await aegis.ok(['instance', 'pause', 'my-instance']);
    assert.equal((await aegis.inspect('my-instance')).status.state, 'paused');
    const response = await fetch('http://127.0.0.1:8080/');
    assert.equal(response.status, 200);
    assert.equal((await aegis.inspect('my-instance')).status.state, 'running');
  });

  it('carries WebSocket, 100 MB each way over http, and half-close over tcp', async () => {
    const [wsPort, httpPort, tcpPort] = await Promise.all([
      findFreePort(),
      findFreePort(),
      findFreePort(),
    ]);
    await aegis.ok([
      'instance',
      'start',
      '--image',
      IMAGE,
      '--name',
      'peers',
      '--expose',
      `${wsPort}:9001`,
      '--expose',
      `${httpPort}:9002/http`,
      '--expose',
      `${tcpPort}:9003/tcp`,
    ]);
    const binary = readFileSync(guestTestServer());
    const install = 'cat > /bin/aegis-testd && chmod 755 /bin/aegis-testd';
    await aegis.ok(['exec', '-i', 'peers', '--', 'sh', '-c', install], binary);
    for (const [mode, port] of [
      ['ws', 9001],
      ['http', 9002],
      ['tcp', 9003],
    ]) {
      const start = `setsid aegis-testd ${mode} ${port} </dev/null >/dev/null 2>&1 &`;
      await aegis.ok(['exec', 'peers', '--', 'sh', '-c', start]);
    }

    assert.deepEqual(await webSocketEcho(wsPort), ['hello', 100_000]);
    assert.equal(await upload(httpPort, 100 * MIB), `${100 * MIB}\n`);
    assert.equal(await download(httpPort, 100 * MIB), 100 * MIB);
    assert.equal(await halfClose(tcpPort, MIB), `got ${MIB} bytes\n`);
  });

  it('refuses invalid or conflicting exposes and creates nothing', async () => {
    const held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    const heldPort = (held.address() as net.AddressInfo).port;
    const free = await findFreePort();
    const countBefore = (await aegis.ok(['instance', 'ls', '-q'])).trim();
    const cases: [string[], RegExp][] = [
      [['--expose', '0:80'], /invalid expose "0:80"/],
      [['--expose', 'abc'], /invalid expose "abc"/],
      [
        ['--expose', `${free}:80`, '--expose', `${free}:81`],
        new RegExp(String(free)),
      ],
      [['--expose', '8080:80'], /already exposed by instance my-instance/],
      [
        ['--expose', `${heldPort}:80`],
        new RegExp(`${heldPort}: another process holds`),
      ],
    ];
    try {
      for (const [flags, message] of cases) {
        const result = await aegis.run([
          'instance',
          'start',
          '--image',
          IMAGE,
          '--name',
          'refused',
          ...flags,
        ]);
        assert.notEqual(result.code, 0, `${flags.join(' ')} was accepted`);
        assert.match(result.stderr, /^aegis: [A-Z_]+: /);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split('\n').length, 1);
      }
    } finally {
      held.close();
    }
    assert.equal(
      (await aegis.ok(['instance', 'ls', '-q'])).trim(),
      countBefore,
    );
  });

  it('keeps exposes across stop, start and a daemon restart', async () => {
    const original = (await aegis.inspect('my-instance')).config.exposes;
    await aegis.ok(['instance', 'stop', 'my-instance']);
    const stopped = await fetch('http://127.0.0.1:8080/');
    assert.equal(stopped.status, 503);
    await aegis.ok(['instance', 'start', 'my-instance']);
    assert.deepEqual(
      (await aegis.inspect('my-instance')).config.exposes,
      original,
    );
    await aegis.ok(['daemon', 'stop']);
    // The next command starts the daemon again.
    assert.deepEqual(
      (await aegis.inspect('my-instance')).config.exposes,
      original,
    );
    const response = await fetch('http://127.0.0.1:8080/');
    assert.equal(response.status, 200);
  });

  it('returns the guest exit codes from exec and run', async () => {
    const exec = await aegis.run([
      'exec',
      'my-instance',
      '--',
      'sh',
      '-c',
      'exit 3',
    ]);
    assert.equal(exec.code, 3);
    const run = await aegis.run([
      'run',
      '--rm',
      IMAGE,
      '--',
      'sh',
      '-c',
      'echo from-the-guest; exit 5',
    ]);
    assert.equal(run.code, 5);
    assert.match(run.stdout, /from-the-guest/);
  });

  it('follows a workload that prints 100,000 lines without losing one', async () => {
    await aegis.ok([
      'instance',
      'start',
      '--image',
      IMAGE,
      '--name',
      'chatty',
      '--',
      'sh',
      '-c',
      'seq 1 100000; exec sleep 3600',
    ]);
    // A slow reader: it takes nothing for three seconds while the
    // workload prints, so the daemon must hold back, not drop.
    const lines = await followLines(aegis, 'chatty', 100_000, 3_000);
    assert.equal(lines.length, 100_000);
    assert.ok(lines.every((line, index) => line === String(index + 1)));
    const tail = await aegis.ok(['logs', '--tail', '2', 'chatty']);
    assert.equal(tail, '99999\n100000\n');
  });

  it('ends logs -f when the workload has ended, and run --rm leaves nothing', async () => {
    const before = await aegis.ok(['instance', 'ls', '-q']);
    await aegis.ok(['run', '--name', 'once', IMAGE, '--', 'echo', 'finished']);
    const followed = await aegis.run(['logs', '-f', 'once'], '', 30_000);
    assert.equal(followed.code, 0, 'logs -f did not end');
    assert.equal(followed.stdout, 'finished\n');
    await aegis.ok(['instance', 'rm', 'once']);
    const run = await aegis.ok(['run', '--rm', IMAGE, '--', 'echo', 'gone']);
    assert.equal(run, 'gone\n');
    assert.equal(await aegis.ok(['instance', 'ls', '-q']), before);
  });

  it("runs the workload as the image's config says, with Docker's overrides", async () => {
    const image = await buildImage(aegis, 'aegis-demo:user', {
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo "$(id -u):$(id -g):$(id -G) $(pwd) $GREETING"'],
      env: ['PATH=/bin', 'GREETING=from-the-image'],
      workingDir: '/tmp',
      user: 'user',
    });
    const asConfigured = await aegis.ok(['run', '--rm', image]);
    assert.equal(asConfigured, '1000:1000:1000 100 /tmp from-the-image\n');
    const overridden = await aegis.ok([
      'run',
      '--rm',
      '-e',
      'GREETING=overridden',
      image,
      '--',
      'echo $GREETING',
    ]);
    assert.equal(overridden, 'overridden\n');
    const entrypoint = ['run', '--rm', '--entrypoint', '/bin/echo', image];
    assert.equal(await aegis.ok([...entrypoint, '--', 'hi']), 'hi\n');
  });

  it('gives the guest the memory and CPUs asked for', async () => {
    const output = await aegis.ok([
      'run',
      '--rm',
      '--memory',
      '256',
      '--cpus',
      '2',
      IMAGE,
      '--',
      'sh',
      '-c',
      'nproc; grep MemTotal /proc/meminfo',
    ]);
    const [cpus, memory] = output.trim().split('\n');
    assert.equal(cpus, '2');
    const memTotalKib = Number(/(\d+) kB/.exec(memory ?? '')?.[1]);
    assert.ok(
      memTotalKib > 200 * 1024 && memTotalKib <= 256 * 1024,
      `MemTotal is ${memTotalKib} kB`,
    );
  });

  it('runs exec as the user, in the directory and with the variables given', async () => {
    const output = await aegis.ok([
      'exec',
      '-u',
      '1000:100',
      '-w',
      '/tmp',
      '-e',
      'MARK=set',
      'my-instance',
      '--',
      'sh',
      '-c',
      'echo "$(id -u):$(id -g) $(pwd) $MARK"',
    ]);
    assert.equal(output, '1000:100 /tmp set\n');
  });

  it('restarts with a new boot, and rm -f frees the ports', async () => {
    const before = await aegis.inspect('my-instance');
    await aegis.ok(['instance', 'restart', 'my-instance']);
    const after = await aegis.inspect('my-instance');
    assert.equal(after.status.state, 'running');
    assert.notEqual(after.status.startedAt, before.status.startedAt);
    assert.equal((await fetch('http://127.0.0.1:8080/')).status, 200);

    await aegis.ok(['instance', 'rm', '-f', 'my-instance']);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(8080, '127.0.0.1', resolve);
    });
    server.close();
  });
});

/** Packs the demo root file system with another image config, and loads it. */
async function buildImage(
  aegis: Aegis,
  ref: string,
  config: Record<string, unknown>,
): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'aegis-image-'));
  try {
    const json = path.join(dir, 'image.json');
    writeFileSync(json, JSON.stringify({ ...config, exposedPorts: [] }));
    const archive = path.join(dir, 'image.tar');
    execFileSync(process.execPath, [
      path.join(ROOT, 'scripts/build-demo-image.ts'),
      path.join(guestDir(), 'demo-rootfs'),
      json,
      archive,
      ref,
    ]);
    await aegis.ok(['image', 'load', '-i', archive]);
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function webSocketEcho(port: number): Promise<(string | number)[]> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.binaryType = 'arraybuffer';
  const received: (string | number)[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => {
      socket.send('hello');
      socket.send(new Uint8Array(100_000));
    };
    socket.onmessage = (event) => {
      const data = event.data as string | ArrayBuffer;
      received.push(typeof data === 'string' ? data : data.byteLength);
      if (received.length === 2) resolve();
    };
    socket.onerror = () => reject(new Error('WebSocket failed'));
  });
  socket.close();
  return received;
}

function upload(port: number, bytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/upload' },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.setHeader('content-length', bytes);
    const chunk = Buffer.alloc(MIB, 7);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function download(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${port}/download?bytes=${bytes}`, (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
        res.on('end', () => resolve(received));
      })
      .on('error', reject);
  });
}

function halfClose(port: number, bytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.end(Buffer.alloc(bytes, 1));
  });
}

async function followLines(
  aegis: Aegis,
  name: string,
  count: number,
  stallMs: number,
): Promise<string[]> {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [
      new URL('../../bin/aegis.ts', import.meta.url).pathname,
      'logs',
      '-f',
      name,
    ],
    { env: { ...process.env, AEGIS_HOME: aegis.home } },
  );
  const lines: string[] = [];
  let pending = '';
  child.stdout.pause();
  setTimeout(() => child.stdout.resume(), stallMs);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts);
      if (lines.length >= count) resolve();
    });
    child.on('error', reject);
    child.on('close', () => resolve());
    // Ends a follower that stalls, so that the test fails instead of hanging.
    setTimeout(resolve, 180_000).unref();
  });
  child.kill();
  return lines;
}
