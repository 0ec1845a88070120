import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { AegisError, describeError, isAegisError } from '../../errors.ts';
import { type Logger, silentLogger } from '../../log.ts';
import type { PortForward, VmmBackend, VmSpec } from '../backend.ts';
import { assignHostPorts } from '../ports.ts';
import { validateVmSpec } from '../validate.ts';
import { detectAccelerator } from './accel.ts';
import { buildQemuArgs, runPaths } from './argv.ts';
import {
  attachQemu,
  lastLines,
  type QemuProcess,
  spawnQemu,
} from './process.ts';
import { IGNORE_SHARED, QemuVm, shellQuote } from './qemu-vm.ts';

/** Attempts when an automatically chosen host port was taken meanwhile. */
const PORT_ATTEMPTS = 3;
const RESTORE_TIMEOUT_MS = 30_000;
/** The agent answers within milliseconds of a restore when it is healthy. */
const RESTORE_HELLO_TIMEOUT_MS = 5_000;

/** QEMU's `microvm` machine: virtio-mmio devices, no PCI, no firmware. */
export class QemuBackend implements VmmBackend {
  readonly name = 'qemu-microvm';

  async boot(spec: VmSpec, log: Logger = silentLogger): Promise<QemuVm> {
    const vmLog = log.child({ instance: spec.id });
    const { qemu, forwards, accel } = await this.#spawn(spec, false);
    vmLog.info(
      { pid: qemu.pid, accel: accel.accel, reason: accel.reason },
      'VM booting',
    );
    const vm = new QemuVm(spec, forwards, qemu, vmLog, 'running');
    vm.channel.open();
    return vm;
  }

  async restore(
    spec: VmSpec,
    log: Logger = silentLogger,
    onSpawned?: (vm: QemuVm) => void,
  ): Promise<QemuVm> {
    const vmLog = log.child({ instance: spec.id });
    const started = performance.now();
    const { qemu, forwards } = await this.#spawn(spec, true);
    const vm = new QemuVm(spec, forwards, qemu, vmLog, 'paused');
    try {
      onSpawned?.(vm);
      await migrateIn(qemu, runPaths(spec.runDir).state);
      // The saved guest was stopped, so it comes back paused; `cont` also
      // drops the used state file. The clock is set on the agent's hello.
      vm.channel.open();
      await vm.resume();
    } catch (error) {
      await vm.kill();
      throw error;
    }
    await vm.channel
      .waitForHello(RESTORE_HELLO_TIMEOUT_MS)
      .catch((error: unknown) => {
        vmLog.warn({ reason: describeError(error) }, 'no hello after restore');
      });
    vmLog.info({ durationMs: performance.now() - started }, 'VM restored');
    return vm;
  }

  /**
   * Takes over a VM that a previous daemon started and left running: its
   * monitor and control channel are reconnected, its forwards read back
   * from its command line.
   */
  async attach(
    spec: VmSpec,
    pid: number,
    log: Logger = silentLogger,
  ): Promise<QemuVm> {
    const vmLog = log.child({ instance: spec.id });
    const forwards = readForwards(pid, spec.id);
    const paths = runPaths(spec.runDir);
    const qemu = await attachQemu(pid, paths.qmpSocket);
    const status = await qemu.qmp.execute<{ status: string }>('query-status');
    const state = status.status === 'running' ? 'running' : 'paused';
    const vm = new QemuVm(spec, forwards, qemu, vmLog, state);
    vm.channel.open();
    vmLog.info({ pid, state }, 'VM re-attached');
    return vm;
  }

  async #spawn(spec: VmSpec, incoming: boolean) {
    validateVmSpec(spec);
    const accel = detectAccelerator(spec.accel);
    const paths = runPaths(spec.runDir);
    await mkdir(spec.runDir, { recursive: true, mode: 0o700 });
    await rm(paths.qmpSocket, { force: true });
    await rm(paths.controlSocket, { force: true });
    for (let attempt = 1; ; attempt++) {
      const forwards = await assignHostPorts(spec.forwards);
      const args = buildQemuArgs({ spec, forwards, accel, incoming });
      try {
        const qemu = await spawnQemu(args, paths.qmpSocket, paths.vmmLog);
        return { qemu, forwards, accel };
      } catch (error) {
        if (!retryable(error, spec.forwards, attempt)) {
          throw portConflict(error, forwards, paths.vmmLog);
        }
      }
    }
  }
}

function retryable(
  error: unknown,
  asked: readonly PortForward[],
  attempt: number,
): boolean {
  const automatic = asked.some((forward) => forward.hostPort === 0);
  return (
    automatic &&
    attempt < PORT_ATTEMPTS &&
    isAegisError(error, 'VMM_FAILED') &&
    error.message.includes('host forwarding')
  );
}

function portConflict(
  error: unknown,
  forwards: readonly PortForward[],
  vmmLogPath: string,
): unknown {
  const message = lastLines(vmmLogPath);
  if (!isAegisError(error, 'VMM_FAILED') || !message.includes('forwarding')) {
    return error;
  }
  const ports = forwards.map((forward) => forward.hostPort).join(', ');
  return new AegisError(
    'CONFLICT',
    `a host port among ${ports} on 127.0.0.1 is in use; free it or pick ` +
      'another port',
  );
}

async function migrateIn(qemu: QemuProcess, statePath: string): Promise<void> {
  await qemu.qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
  await qemu.qmp.execute('migrate-incoming', {
    uri: `exec:cat ${shellQuote(statePath)}`,
  });
  const deadline = performance.now() + RESTORE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const status = await qemu.qmp.execute<{ status: string }>('query-status');
    if (status.status !== 'inmigrate') return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new AegisError(
    'TIMEOUT',
    `restoring from ${statePath} took over ${RESTORE_TIMEOUT_MS} ms`,
  );
}

/**
 * The host ports a running QEMU forwards, from its command line; only a
 * QEMU started for this VM (named `aegis-ID`) is taken over.
 */
function readForwards(pid: number, id: string): PortForward[] {
  let words: string[];
  try {
    words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    words = [];
  }
  if (!words.includes(`aegis-${id}`)) {
    throw new AegisError(
      'VMM_EXITED',
      `process ${pid} is not the VMM of ${id}; it has exited`,
    );
  }
  const forwards: PortForward[] = [];
  for (const match of words.join(' ').matchAll(HOSTFWD)) {
    forwards.push({ hostPort: Number(match[1]), guestPort: Number(match[2]) });
  }
  return forwards;
}

const HOSTFWD = /hostfwd=tcp:127\.0\.0\.1:(\d+)-:(\d+)/g;
