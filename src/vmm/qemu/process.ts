import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AegisError } from '../../errors.ts';
import { isProcessAlive } from '../../host/process.ts';
import type { VmExit } from '../backend.ts';
import { QmpClient } from './qmp.ts';

export const QEMU_BINARY = process.env.AEGIS_QEMU ?? 'qemu-system-x86_64';

/** How long QEMU may take to open its monitor socket. */
const QMP_READY_TIMEOUT_MS = 10_000;

export interface QemuProcess {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<VmExit>;
  qmp: QmpClient;
}

/** How often a VMM that is not our child is checked for life. */
const ATTACHED_POLL_MS = 250;

/**
 * Spawns QEMU with its output appended to vmmLogPath, and connects to its
 * monitor. Fails with VMM_FAILED, quoting QEMU, when it exits first.
 */
export async function spawnQemu(
  args: string[],
  qmpSocket: string,
  vmmLogPath: string,
): Promise<QemuProcess> {
  const logFd = openSync(vmmLogPath, 'a');
  let child: ChildProcess;
  try {
    // Its own process group: a Ctrl-C meant for the daemon's terminal
    // must not reach the VMs, which outlive a daemon restart.
    child = spawn(QEMU_BINARY, args, {
      stdio: ['ignore', logFd, logFd],
      detached: true,
    });
  } finally {
    closeSync(logFd);
  }
  const exited = watchExit(child);
  const qmp = await connectQmp(qmpSocket, exited, vmmLogPath, child);
  return {
    pid: child.pid ?? 0,
    kill: (signal) => child.kill(signal),
    exited,
    qmp,
  };
}

/**
 * Takes over a VMM a previous daemon started. It is not our child, so its
 * end is noticed by its monitor closing and by polling its pid, and its
 * exit status is unknown.
 */
export async function attachQemu(
  pid: number,
  qmpSocket: string,
): Promise<QemuProcess> {
  const qmp = await QmpClient.connect(qmpSocket);
  const exited = new Promise<VmExit>((resolve) => {
    const check = () => {
      if (isProcessAlive(pid)) return;
      clearInterval(timer);
      resolve({ code: null, signal: null, at: new Date() });
    };
    const timer = setInterval(check, ATTACHED_POLL_MS);
    qmp.once('close', () => setTimeout(check, 20));
  });
  const kill = (signal: NodeJS.Signals) => {
    if (isProcessAlive(pid)) process.kill(pid, signal);
  };
  return { pid, kill, exited, qmp };
}

function watchExit(child: ChildProcess): Promise<VmExit> {
  return new Promise((resolve) => {
    child.once('error', () =>
      resolve({ code: 127, signal: null, at: new Date() }),
    );
    child.once('exit', (code, signal) =>
      resolve({ code, signal, at: new Date() }),
    );
  });
}

async function connectQmp(
  socketPath: string,
  exited: Promise<VmExit>,
  vmmLogPath: string,
  child: ChildProcess,
): Promise<QmpClient> {
  let gone: VmExit | undefined;
  void exited.then((exit) => {
    gone = exit;
  });
  const deadline = performance.now() + QMP_READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (gone !== undefined) throw qemuFailed(gone, vmmLogPath);
    try {
      return await QmpClient.connect(socketPath);
    } catch {
      await sleep(5);
    }
  }
  child.kill('SIGKILL');
  throw new AegisError(
    'TIMEOUT',
    `QEMU did not open its monitor within ${QMP_READY_TIMEOUT_MS} ms; ` +
      `see ${vmmLogPath}`,
  );
}

export function qemuFailed(exit: VmExit, vmmLogPath: string): AegisError {
  const status = exit.signal ?? `status ${exit.code}`;
  return new AegisError(
    'VMM_FAILED',
    `QEMU exited at start (${status}): ${lastLines(vmmLogPath)}`,
  );
}

/** The end of QEMU's own log, which says why it refused to start. */
export function lastLines(file: string, count = 3): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines.slice(-count).join(' | ') || `nothing in ${file}`;
  } catch {
    return `no log at ${file}`;
  }
}
