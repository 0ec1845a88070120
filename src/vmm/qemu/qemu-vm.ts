import { rename, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlChannel } from '../../control/channel.ts';
import { AegisError, describeError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type {
  PortForward,
  SnapshotInfo,
  Vm,
  VmExit,
  VmSpec,
  VmState,
} from '../backend.ts';
import { runPaths } from './argv.ts';
import type { QemuProcess } from './process.ts';
import type { QmpClient } from './qmp.ts';

/** Migration has no default time limit; a snapshot must not hang. */
const SNAPSHOT_TIMEOUT_MS = 60_000;
const MIGRATION_POLL_MS = 1;

interface MigrationInfo {
  status?: string;
  'error-desc'?: string;
}

/** One running QEMU process and the guest inside it. */
export class QemuVm implements Vm {
  readonly spec: VmSpec;
  readonly forwards: readonly PortForward[];
  readonly channel: ControlChannel;
  readonly exited: Promise<VmExit>;
  #process: QemuProcess;
  #qmp: QmpClient;
  #log: Logger;
  #state: VmState;

  constructor(
    spec: VmSpec,
    forwards: readonly PortForward[],
    qemu: QemuProcess,
    log: Logger,
    state: VmState,
  ) {
    this.spec = spec;
    this.forwards = forwards;
    this.#process = qemu;
    this.#qmp = qemu.qmp;
    this.#log = log;
    this.#state = state;
    this.channel = new ControlChannel(runPaths(spec.runDir).controlSocket, log);
    this.exited = qemu.exited.then((exit) => this.#onExit(exit));
    this.channel.on('hello', () => this.#setClockQuietly());
  }

  get pid(): number {
    return this.#process.pid;
  }

  get state(): VmState {
    return this.#state;
  }

  async pause(): Promise<void> {
    this.#assertAlive('pause');
    await this.#qmp.execute('stop');
    this.#state = 'paused';
  }

  async resume(): Promise<void> {
    this.#assertAlive('resume');
    // Running the guest changes its memory file, so the device state saved
    // beside it no longer matches: drop it rather than restore it later.
    await rm(runPaths(this.spec.runDir).state, { force: true });
    await this.#qmp.execute('cont');
    this.#state = 'running';
    // Without a connection (a restore), the clock is set on the next hello.
    if (!this.channel.connected) return;
    await this.channel.setClock().catch((error: unknown) => {
      this.#log.warn({ reason: describeError(error) }, 'guest clock not set');
    });
  }

  async snapshot(): Promise<SnapshotInfo> {
    this.#assertAlive('snapshot');
    const started = performance.now();
    const { state } = runPaths(this.spec.runDir);
    const partial = `${state}.partial`;
    if (this.#state === 'running') await this.pause();
    await this.#qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
    await this.#qmp.execute('migrate-set-parameters', {
      'max-bandwidth': Number.MAX_SAFE_INTEGER,
    });
    await this.#qmp.execute('migrate', {
      uri: `exec:cat > ${shellQuote(partial)}`,
    });
    await this.#waitForMigration();
    await rename(partial, state);
    const durationMs = performance.now() - started;
    const stateBytes = (await stat(state)).size;
    this.#log.info({ durationMs, stateBytes }, 'snapshot written');
    return { statePath: state, stateBytes, durationMs };
  }

  async stop(timeoutMs: number): Promise<VmExit> {
    if (this.#state === 'exited') return this.exited;
    if (this.#state === 'paused')
      await this.#qmp.execute('cont').catch(() => {});
    if (this.channel.shutdown(Math.max(0, timeoutMs - 500))) {
      const exit = await Promise.race([this.exited, sleep(timeoutMs)]);
      if (exit !== undefined) return exit;
      this.#log.warn({ timeoutMs }, 'guest did not power off in time');
    }
    this.#process.kill('SIGKILL');
    return this.exited;
  }

  async kill(): Promise<VmExit> {
    if (this.#state !== 'exited') this.#process.kill('SIGKILL');
    return this.exited;
  }

  async #waitForMigration(): Promise<void> {
    const deadline = performance.now() + SNAPSHOT_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const info = await this.#qmp.execute<MigrationInfo>('query-migrate');
      if (info.status === 'completed') return;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new AegisError(
          'VMM_FAILED',
          `snapshot failed: ${info['error-desc'] ?? info.status}`,
        );
      }
      await sleep(MIGRATION_POLL_MS);
    }
    await this.#qmp.execute('migrate_cancel').catch(() => {});
    throw new AegisError(
      'TIMEOUT',
      `snapshot did not finish within ${SNAPSHOT_TIMEOUT_MS} ms`,
    );
  }

  #setClockQuietly(): void {
    this.channel.setClock().catch((error: unknown) => {
      this.#log.debug({ reason: describeError(error) }, 'guest clock not set');
    });
  }

  #onExit(exit: VmExit): VmExit {
    this.#state = 'exited';
    this.#qmp.close();
    this.channel.close(
      new AegisError('VMM_EXITED', `the VM ${this.spec.id} has exited`),
    );
    this.#log.info({ code: exit.code, signal: exit.signal }, 'VMM exited');
    return exit;
  }

  #assertAlive(action: string): void {
    if (this.#state === 'exited') {
      throw new AegisError(
        'VMM_EXITED',
        `cannot ${action} the VM ${this.spec.id}: it has exited`,
      );
    }
  }
}

/**
 * Migration leaves out RAM in shared memory backends, which the VM's
 * memory file is: the snapshot holds device state only. Both ends of a
 * migration must set it.
 */
export const IGNORE_SHARED = {
  capabilities: [{ capability: 'x-ignore-shared', state: true }],
};

/** Quotes a path for the shell QEMU runs `exec:` migrations through. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
