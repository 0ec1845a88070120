/**
 * One real VM, shared by the tests below: the demo image booted with the
 * project's kernel and agent, running a workload that logs, then serves
 * HTTP on the demo port.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { LogRecord } from '../../src/control/channel.ts';
import {
  bootVm,
  demoWorkload,
  execIn,
  guestClockSkewS,
  httpGet,
  type TestVm,
  waitFor,
} from '../helpers/guest.ts';

const LINES = 2000;
const LONG_LINE_BYTES = 1024 * 1024;

// Logs numbered lines, one 1 MiB line, a line on stderr, then serves.
const script = [
  `seq 1 ${LINES} | sed 's/^/line /'`,
  `head -c ${LONG_LINE_BYTES} /dev/zero | tr '\\0' x`,
  'echo',
  'echo after-the-long-line >&2',
  'exec "$@"',
].join('; ');

describe('a booted demo VM', () => {
  let guest: TestVm;
  const records: LogRecord[] = [];

  before(async () => {
    const demo = await demoWorkload();
    guest = await bootVm({
      workload: {
        ...demo,
        argv: ['/bin/sh', '-c', script, 'sh', ...demo.argv],
      },
      onLog: (record) => records.push(record),
    });
  });

  after(async () => {
    await guest?.dispose();
  });

  it('says hello with its version and boot timestamps', () => {
    const hello = guest.vm.channel.hello!;
    assert.equal(hello.protocol, 1);
    assert.match(hello.agentVersion, /^\d+\.\d+/);
    assert.ok(hello.bootNs > 0n && hello.rootReadyNs >= hello.bootNs);
    assert.ok(hello.nowNs >= hello.rootReadyNs);
  });

  it('answers HTTP through the forwarded port', async () => {
    const { status, body } = await httpGet(guest.port);
    assert.equal(status, 200);
    assert.match(body, /Hello from an Aegis microVM/);
  });

  it('delivers workload logs in order, long line included', async () => {
    await waitFor(() => records.some((r) => r.fd === 'stderr'));
    const stdout = joinLines(records.filter((r) => r.fd === 'stdout'));
    const expected = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);
    assert.deepEqual(stdout.slice(0, LINES), expected);
    assert.equal(stdout[LINES], 'x'.repeat(LONG_LINE_BYTES));
    const stderr = joinLines(records.filter((r) => r.fd === 'stderr'));
    assert.equal(stderr[0], 'after-the-long-line');
  });

  it('runs exec with stdin, and separates stdout from stderr', async () => {
    const input = 'round trip\n'.repeat(50_000);
    const cat = await execIn(guest.vm, ['cat'], input);
    assert.deepEqual(cat.status, { exitCode: 0 });
    assert.equal(cat.stdout, input);
    const split = await execIn(guest.vm, [
      'sh',
      '-c',
      'echo to-out; echo to-err >&2',
    ]);
    assert.equal(split.stdout, 'to-out\n');
    assert.equal(split.stderr, 'to-err\n');
  });

  it('reports exit codes and deaths by signal', async () => {
    const ok = await execIn(guest.vm, ['true']);
    assert.deepEqual(ok.status, { exitCode: 0 });
    const three = await execIn(guest.vm, ['sh', '-c', 'exit 3']);
    assert.deepEqual(three.status, { exitCode: 3 });
    const killed = await execIn(guest.vm, ['sh', '-c', 'kill -KILL $$']);
    assert.deepEqual(killed.status, { signal: 9 });
  });

  it('fails exec of a missing program with the guest errno', async () => {
    const session = guest.vm.channel.exec({ argv: ['/no/such/program'] });
    await assert.rejects(session.exited, /No such file or directory/);
  });

  it('gives a terminal session its size, and resizes it', async () => {
    const session = guest.vm.channel.exec({
      argv: ['sh', '-c', 'stty size; read line; stty size'],
      tty: true,
      rows: 33,
      cols: 101,
      stdin: true,
    });
    let output = '';
    session.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitFor(() => /\d+ \d+/.test(output));
    session.resize(50, 132);
    await session.write(Buffer.from('go\n'));
    assert.deepEqual(await session.exited, { exitCode: 0 });
    assert.deepEqual(output.match(/\d+ \d+/g), ['33 101', '50 132']);
  });

  it('forwards a signal to an exec session', async () => {
    const session = guest.vm.channel.exec({ argv: ['sleep', '600'] });
    await session.started;
    session.signal(15);
    assert.deepEqual(await session.exited, { signal: 15 });
  });

  it('has its clock set to the host clock', async () => {
    const skewS = await guestClockSkewS(guest.vm);
    assert.ok(skewS <= 1, `guest clock is ${skewS} s off`);
  });

  it('holds a request while paused and answers it after resume', async () => {
    await httpGet(guest.port);
    await guest.vm.pause();
    assert.equal(guest.vm.state, 'paused');
    let answered = false;
    const request = httpGet(guest.port, '/', 1).then((response) => {
      answered = true;
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(answered, false, 'a paused guest answered');
    await guest.vm.resume();
    assert.equal((await request).status, 200);
  });

  it('sets the clock again after a long pause', async () => {
    await guest.vm.pause();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await guest.vm.resume();
    const skewS = await guestClockSkewS(guest.vm);
    assert.ok(skewS <= 1, `guest clock is ${skewS} s off after a pause`);
  });

  it('cannot reach services on the host loopback', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.end('host secret\n');
    });
    await new Promise<void>((resolve) => server.listen(0, resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      for (const host of ['10.0.2.2', '127.0.0.1']) {
        const attempt = await execIn(guest.vm, [
          'sh',
          '-c',
          `nc -w 2 ${host} ${port} </dev/null`,
        ]);
        assert.doesNotMatch(attempt.stdout, /host secret/);
      }
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });
});

function joinLines(records: LogRecord[]): string[] {
  const lines: string[] = [];
  let pending: Buffer[] = [];
  for (const record of records) {
    pending.push(record.line);
    if (record.partial) continue;
    lines.push(Buffer.concat(pending).toString('utf8'));
    pending = [];
  }
  return lines;
}
