/**
 * The agent's duties as PID 1, in a VM of their own: orphans are reaped,
 * signals sent to PID 1 reach the workload, and the workload's exit is
 * reported before the VM powers off. Also runs the agent's own C unit
 * test of its frame codec, which needs no VM.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LogRecord } from '../../src/control/channel.ts';
import type { ExitStatus } from '../../src/control/messages.ts';
import { bootVm, execIn, type TestVm, waitFor } from '../helpers/guest.ts';

const AGENT_DIR = fileURLToPath(new URL('../../guest/agent', import.meta.url));

// Reports each signal it gets, and exits 7 on SIGTERM.
const WORKLOAD = [
  'trap "echo got-usr1" USR1',
  'trap "echo got-term; exit 7" TERM',
  'echo ready',
  'while true; do sleep 0.1; done',
].join('; ');

describe('the agent as PID 1', () => {
  let guest: TestVm;
  const lines: string[] = [];
  let workloadExit: Promise<ExitStatus>;

  before(async () => {
    guest = await bootVm({
      forwards: [],
      workload: { argv: ['/bin/sh', '-c', WORKLOAD] },
      onLog: (record: LogRecord) => lines.push(record.line.toString()),
    });
    workloadExit = new Promise((resolve) =>
      guest.vm.channel.once('workload-exit', resolve),
    );
    await waitFor(() => lines.includes('ready'));
  });

  after(async () => {
    await guest?.dispose();
  });

  it('reaps orphaned processes', async () => {
    // Each subshell exits at once and leaves its sleep to PID 1.
    const orphans = 'for i in 1 2 3 4 5; do (sleep 0.1 &); done; sleep 1';
    await execIn(guest.vm, ['sh', '-c', orphans]);
    const zombies = await execIn(guest.vm, [
      'sh',
      '-c',
      'cat /proc/[0-9]*/stat 2>/dev/null | awk \'$3 == "Z"\' | wc -l',
    ]);
    assert.equal(zombies.stdout.trim(), '0');
  });

  it('forwards signals sent to PID 1 to the workload', async () => {
    await execIn(guest.vm, ['kill', '-USR1', '1']);
    await waitFor(() => lines.includes('got-usr1'));
  });

  it('reports the exit status of the workload, then powers off', async () => {
    await execIn(guest.vm, ['kill', '-TERM', '1']).catch(() => {});
    assert.deepEqual(await workloadExit, { exitCode: 7 });
    assert.ok(lines.includes('got-term'));
    const exit = await guest.vm.exited;
    assert.equal(exit.signal, null, 'the VMM was killed, not powered off');
  });
});

describe('the agent frame codec', () => {
  it('passes its C unit tests, under the address sanitizer', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'aegis-agent-check-'));
    try {
      const output = execFileSync(
        'make',
        ['-s', '-C', AGENT_DIR, 'check', `OUT=${out}`],
        { encoding: 'utf8' },
      );
      assert.match(output, /all passed/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
