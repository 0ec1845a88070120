import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExecSession } from '../../control/exec-session.ts';
import type { ExecSpec, ExitStatus } from '../../control/messages.ts';
import { AegisError, describeError } from '../../errors.ts';
import type { GuestArtifacts } from '../../guest/artifacts.ts';
import { createLayerDisk } from '../../guest/layer.ts';
import { isProcessAlive } from '../../host/process.ts';
import type { ImageStore, ResolvedImage } from '../../images/index.ts';
import type { Logger } from '../../log.ts';
import type {
  Router,
  RouterListener,
  UpstreamAddress,
} from '../../router/index.ts';
import type { Vm, VmExit, VmmBackend, VmSpec } from '../../vmm/backend.ts';
import { runPaths } from '../../vmm/qemu/argv.ts';
import { LogStore } from '../logs/log-store.ts';
import type { Instance, InstanceState, InstanceStatus } from '../model.ts';
import type { InstanceStore } from '../store/store.ts';
import { type IdleStep, IdleTracker } from './idle.ts';
import { LogLines } from './log-lines.ts';
import { Mutex } from './mutex.ts';
import { resolveUser } from './users.ts';
import { workloadSpec } from './workload.ts';

export interface RuntimeDeps {
  backend: VmmBackend;
  router: Router;
  store: InstanceStore;
  images: ImageStore;
  guest: GuestArtifacts;
  log: Logger;
}

/** Sparse: only what the guest writes takes room on the host. */
export const LAYER_DISK_MIB = 4096;
const HELLO_TIMEOUT_MS = 60_000;
/** Why the VM is going away, when the daemon itself made it go. */
type Leaving = 'stop' | 'hibernate' | 'remove' | 'restore' | undefined;

/**
 * One instance at run time: its VM (when it has one), its router
 * listeners (for as long as the instance exists) and its log. Every
 * lifecycle step runs under the instance's mutex.
 */
export class InstanceRuntime {
  readonly dir: string;
  readonly logs: LogStore;
  #deps: RuntimeDeps;
  #log: Logger;
  #lock = new Mutex();
  #vm: Vm | undefined;
  #listeners: RouterListener[] = [];
  #leaving: Leaving;
  #workloadExit: ExitStatus | undefined;
  #exitWaiters: (() => void)[] = [];
  #record: Instance;
  #idle: IdleTracker;
  /** Set when the daemon shuts down: no VM may start after that. */
  #closing = false;

  constructor(instance: Instance, dir: string, deps: RuntimeDeps) {
    this.#record = instance;
    this.#idle = new IdleTracker(instance.config.idle, (step) => {
      void this.#idleStep(step);
    });
    this.dir = dir;
    this.#deps = deps;
    this.#log = deps.log.child({ instance: instance.id });
    this.logs = new LogStore(path.join(dir, 'logs'));
    if (isFinal(instance.status.state)) this.logs.end();
  }

  /** The stored instance, with the idle tracker's live figures. */
  get instance(): Instance {
    const record = this.#record;
    return {
      ...record,
      status: {
        ...record.status,
        lastActivityAt: this.#idle.lastActivityAt,
        nextIdleStepAt: this.#idle.nextStepAt,
      },
    };
  }

  get id(): string {
    return this.#record.id;
  }

  get state(): InstanceState {
    return this.#record.status.state;
  }

  /**
   * Brings the record in line with reality after a daemon start. A VM the
   * previous daemon left running (it was killed, or crashed) is taken
   * over with its memory, its logs and its workload; one that is gone is
   * recorded as failed.
   */
  recover(): Promise<void> {
    return this.#lock.run(async () => {
      const { state, vmmPid } = this.#record.status;
      // A hibernated instance with a VMM was being restored when the
      // previous daemon died.
      const hadVmm =
        ['starting', 'running', 'paused', 'stopping'].includes(state) ||
        (state === 'hibernated' && vmmPid !== null);
      if (!hadVmm) {
        this.#idle.schedule(state);
        return;
      }
      try {
        await this.#reattach(vmmPid);
      } catch (error) {
        // A VMM that is alive but cannot be driven would run unseen.
        if (vmmPid !== null) await killVmm(vmmPid, this.id);
        this.#recoverWithoutVmm(describeError(error));
      }
    });
  }

  /** The VM is gone: its snapshot, when one was written, still holds it. */
  #recoverWithoutVmm(why: string): void {
    if (existsSync(runPaths(path.join(this.dir, 'run')).state)) {
      this.#setStatus({ state: 'hibernated', vmmPid: null });
      this.#log.info({ why }, 'recovered as hibernated from its snapshot');
      return;
    }
    this.#setStatus({
      state: 'failed',
      vmmPid: null,
      reason: `the VMM ended while the daemon was down (${why})`,
      finishedAt: new Date().toISOString(),
    });
  }

  async #reattach(pid: number | null): Promise<void> {
    if (pid === null) throw new AegisError('VMM_EXITED', 'no VMM was recorded');
    const spec = await this.#vmSpec();
    const vm = await this.#deps.backend.attach(spec, pid, this.#deps.log);
    this.#adopt(vm);
    // A paused guest says hello only once it runs again; it was paused
    // after its workload had started.
    if (vm.state === 'paused' && this.state === 'paused') {
      this.#idle.schedule(this.state);
      this.#log.info({ pid }, 're-attached after a daemon restart');
      return;
    }
    const hello = await vm.channel.waitForHello(HELLO_TIMEOUT_MS);
    if (hello.workload === 'pending') await this.#startWorkload(vm);
    if (this.state === 'stopping') {
      this.#leaving = 'stop';
      await vm.stop(5_000);
      await this.#settled(vm);
      return;
    }
    this.#setStatus({ state: vm.state === 'paused' ? 'paused' : 'running' });
    this.#idle.schedule(this.state);
    this.#log.info({ pid }, 're-attached after a daemon restart');
  }

  /** Claims every exposed host port; CONFLICT when one is taken. */
  async bindListeners(): Promise<void> {
    const { exposes, retry } = this.instance.config;
    try {
      for (const expose of exposes) {
        const listener = await this.#deps.router.listen({
          bindHost: expose.bindHost,
          hostPort: expose.hostPort,
          protocol: expose.protocol,
          retry,
          target: {
            instanceId: this.id,
            wake: () => this.upstream(expose.guestPort),
            ready: () => this.readyUpstream(expose.guestPort),
            onActivity: (event) => this.#activity(event),
          },
        });
        this.#listeners.push(listener);
      }
    } catch (error) {
      await this.closeListeners();
      throw error;
    }
  }

  async closeListeners(): Promise<void> {
    const listeners = this.#listeners.splice(0);
    await Promise.all(listeners.map((listener) => listener.close()));
  }

  /**
   * The router's wake: where to send a connection for a guest port. Cheap
   * while running; otherwise resumes or restores the VM (never waiting
   * for the app) or refuses when the instance is not meant to run.
   */
  async upstream(guestPort: number): Promise<UpstreamAddress> {
    const ready = this.readyUpstream(guestPort);
    if (ready !== undefined) return ready;
    const vm = await this.#lock.run(() => this.#wake('ingress'));
    return this.#forwardTo(vm, guestPort);
  }

  /** The router's fast path: the address when no wake is needed. */
  readyUpstream(guestPort: number): UpstreamAddress | undefined {
    // While a lifecycle step runs (a hibernation being written, a stop),
    // a connection waits for it rather than reach a VMM about to go.
    const vm = this.#vm;
    if (this.state !== 'running' || vm === undefined || this.#lock.busy) {
      return undefined;
    }
    return this.#forwardTo(vm, guestPort);
  }

  #forwardTo(vm: Vm, guestPort: number): UpstreamAddress {
    const forward = vm.forwards.find((f) => f.guestPort === guestPort);
    // A cold boot sets startedAt; a resume or a restore keeps it.
    const epoch = this.#record.status.startedAt ?? undefined;
    return { host: '127.0.0.1', port: forward!.hostPort, epoch };
  }

  start(): Promise<void> {
    return this.#lock.run(async () => {
      // Its memory is on disk: bring it back rather than boot afresh.
      if (this.state === 'hibernated') {
        await this.#wake('resume');
        return;
      }
      if (this.#vm !== undefined) {
        throw new AegisError(
          'CONFLICT',
          `instance ${this.instance.name} is ${this.state}; stop it first`,
        );
      }
      await this.#boot();
    });
  }

  stop(timeoutMs: number): Promise<void> {
    return this.#lock.run(async () => {
      const vm = this.#vm;
      if (vm === undefined) {
        if (this.state === 'hibernated') await this.#dropSnapshot();
        if (!isFinal(this.state)) this.#setStatus({ state: 'stopped' });
        return;
      }
      this.#setStatus({ state: 'stopping' });
      this.#leaving = 'stop';
      await vm.stop(timeoutMs);
      await this.#settled(vm);
    });
  }

  pause(): Promise<void> {
    return this.#lock.run(async () => {
      const vm = this.#requireVm('pause');
      if (this.state === 'paused') return;
      await vm.pause();
      this.#setStatus({ state: 'paused' });
    });
  }

  resume(): Promise<void> {
    return this.#lock.run(async () => {
      // A resume counts as activity: the idle periods start again.
      this.#idle.touch();
      await this.#wake('resume');
      this.#idle.schedule(this.state);
    });
  }

  /**
   * Daemon shutdown: stops taking connections, then saves the VM so the
   * next daemon wakes it with its memory. A wake queued behind this finds
   * the instance closing and starts nothing.
   */
  shutdown(): Promise<void> {
    this.#closing = true;
    this.#idle.cancel();
    return this.closeListeners().then(() => this.hibernate());
  }

  /** Saves the VM to disk and ends its VMM: no CPU, no memory held. */
  hibernate(): Promise<void> {
    return this.#lock.run(() => this.#hibernate());
  }

  async #hibernate(): Promise<void> {
    const vm = this.#vm;
    if (vm === undefined || !['running', 'paused'].includes(this.state)) {
      return;
    }
    const started = performance.now();
    const wasRunning = this.state === 'running';
    try {
      await vm.snapshot();
    } catch (error) {
      // The snapshot paused the VM: give it back as it was.
      if (wasRunning && vm.state === 'paused') await vm.resume();
      throw error;
    }
    this.#leaving = 'hibernate';
    await vm.kill();
    await this.#settled(vm);
    this.#log.info({ durationMs: elapsed(started) }, 'hibernated');
  }

  async exec(spec: ExecSpec): Promise<ExecSession> {
    this.#activity('open');
    try {
      const vm = await this.#lock.run(() => this.#wake('exec'));
      const session = vm.channel.exec(spec);
      void session.exited
        .catch(() => {})
        .finally(() => this.#activity('close'));
      return session;
    } catch (error) {
      this.#activity('close');
      throw error;
    }
  }

  #activity(event: 'open' | 'close'): void {
    if (event === 'open') {
      this.#idle.open();
      this.#idle.cancel();
    } else {
      this.#idle.close();
      this.#idle.schedule(this.state);
    }
  }

  /** The idle timer fired: pause or hibernate, unless activity came. */
  async #idleStep(step: IdleStep): Promise<void> {
    try {
      await this.#lock.run(() => this.#takeIdleStep(step));
    } catch (error) {
      // The VM stays as it was; try again after another idle period.
      this.#log.warn(
        { step, reason: describeError(error) },
        'idle step failed',
      );
      this.#idle.touch();
      this.#idle.schedule(this.state);
    }
  }

  async #takeIdleStep(step: IdleStep): Promise<void> {
    if (this.#closing || this.#idle.dueStep(this.state) !== step) {
      this.#idle.schedule(this.state);
      return;
    }
    const idleSince = this.#idle.lastActivityAt;
    if (step === 'pause' && this.state === 'running' && this.#vm) {
      await this.#vm.pause();
      this.#setStatus({ state: 'paused' });
      this.#log.info({ idleSince }, 'idle: paused');
    } else if (step === 'hibernate') {
      await this.#hibernate();
      this.#log.info({ idleSince }, 'idle: hibernated');
    }
  }

  /** Resolves with the workload's exit code once the instance has ended. */
  async wait(signal?: AbortSignal): Promise<number> {
    while (!isFinal(this.state) || this.state === 'created') {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.#exitWaiters.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    const { exitCode, reason } = this.instance.status;
    if (exitCode !== null) return exitCode;
    throw new AegisError(
      'VMM_EXITED',
      `instance ${this.instance.name} is ${this.state}` +
        (reason === null ? '' : `: ${reason}`),
    );
  }

  /** Ends the VM (if any) and frees the ports; the caller drops the rest. */
  remove(): Promise<void> {
    return this.#lock.run(async () => {
      const vm = this.#vm;
      if (vm !== undefined) {
        this.#leaving = 'remove';
        await vm.kill();
        await this.#settled(vm);
      }
      await this.closeListeners();
      this.logs.close();
    });
  }

  // Steps, always under the lock.

  async #wake(reason: 'ingress' | 'exec' | 'resume'): Promise<Vm> {
    const { state } = this;
    if (state === 'running' && this.#vm !== undefined) return this.#vm;
    if (this.#closing) {
      throw new AegisError(
        'DAEMON_UNAVAILABLE',
        `instance ${this.#record.name} is ${state} and the daemon is ` +
          'shutting down; try again once it is back',
      );
    }
    const asleep = state === 'paused' || state === 'hibernated';
    if (
      asleep &&
      reason === 'ingress' &&
      !this.#record.config.idle.wakeOnIngress
    ) {
      throw new AegisError(
        'CONFLICT',
        `instance ${this.#record.name} is ${state} and does not wake on ` +
          `ingress; resume it with \`aegis instance resume ${this.#record.name}\``,
      );
    }
    if (state === 'paused' && this.#vm !== undefined) {
      const started = performance.now();
      await this.#vm.resume();
      this.#setStatus({ state: 'running' });
      this.#log.info(
        { reason, durationMs: elapsed(started) },
        'woke from pause',
      );
      return this.#vm;
    }
    if (state === 'hibernated') return this.#restore(reason);
    throw new AegisError(
      'CONFLICT',
      `instance ${this.instance.name} is ${state}; start it with ` +
        `\`aegis instance start ${this.instance.name}\``,
    );
  }

  async #restore(reason: string): Promise<Vm> {
    const started = performance.now();
    try {
      const vm = await this.#restoreVm();
      this.#setStatus({ state: 'running', vmmPid: vm.pid });
      this.#log.info({ reason, durationMs: elapsed(started) }, 'restored');
      return vm;
    } catch (error) {
      this.#log.warn(
        { reason: describeError(error) },
        'snapshot could not be restored; booting from the disks',
      );
      await this.#dropSnapshot();
      return this.#boot();
    }
  }

  async #restoreVm(): Promise<Vm> {
    const spec = await this.#vmSpec();
    // Adopted before it runs, so no event of the restored guest is
    // missed, and its pid is on record should the daemon die meanwhile.
    const vm = await this.#deps.backend.restore(spec, this.#deps.log, (v) => {
      this.#adopt(v);
      this.#leaving = 'restore';
      this.#setStatus({ vmmPid: v.pid });
    });
    if (this.#vm !== vm) {
      throw new AegisError('VMM_EXITED', 'the restored VMM exited at once');
    }
    this.#leaving = undefined;
    return vm;
  }

  async #boot(): Promise<Vm> {
    const image = await this.#image();
    this.#workloadExit = undefined;
    this.#setStatus({
      state: 'starting',
      exitCode: null,
      reason: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
    });
    const layer = path.join(this.dir, 'layer.ext4');
    if (!existsSync(layer)) await createLayerDisk(layer, LAYER_DISK_MIB);
    const spec = await this.#vmSpec(image);
    // The backend adds the instance id to its own log lines.
    const vm = await this.#deps.backend.boot(spec, this.#deps.log);
    this.#adopt(vm);
    this.#setStatus({ vmmPid: vm.pid });
    try {
      await vm.channel.waitForHello(HELLO_TIMEOUT_MS);
      await this.#startWorkload(vm, image);
    } catch (error) {
      await vm.kill();
      await this.#settled(vm);
      this.#setStatus({ state: 'failed', reason: describeError(error) });
      throw error;
    }
    this.#setStatus({ state: 'running', vmmPid: vm.pid });
    return vm;
  }

  async #startWorkload(vm: Vm, image?: ResolvedImage): Promise<void> {
    const resolved = image ?? (await this.#image());
    const { config, diskPath } = resolved;
    const credentials = await resolveUser(config.user, diskPath);
    const workload = workloadSpec(config, this.#record.config, credentials);
    await vm.channel.start(workload, hostname(this.#record.name));
  }

  #adopt(vm: Vm): void {
    this.#vm = vm;
    this.#leaving = undefined;
    const lines = new LogLines(this.logs);
    vm.channel.on('log', (record) => lines.add(record));
    vm.channel.on('lease', (holdMs) => this.#lease(holdMs));
    vm.channel.on('hello', (hello) => {
      if (hello.holdMs !== undefined) this.#lease(hello.holdMs);
    });
    vm.channel.on('workload-exit', (status) => {
      lines.end();
      this.#workloadExit = status;
    });
    void vm.exited.then((exit) => this.#onVmExit(vm, exit));
  }

  #lease(holdMs: number): void {
    this.#idle.lease(holdMs);
    this.#idle.schedule(this.state);
  }

  /** Waits until the exit handler has recorded the VM's end. */
  async #settled(vm: Vm): Promise<void> {
    await vm.exited;
    await new Promise((resolve) => setImmediate(resolve));
  }

  #onVmExit(vm: Vm, exit: VmExit): void {
    if (this.#vm !== vm) return;
    this.#vm = undefined;
    this.logs.flush();
    const leaving = this.#leaving;
    this.#leaving = undefined;
    const finishedAt = exit.at.toISOString();
    if (leaving === 'restore') {
      // A restore that failed: the wake falls back to a cold boot.
      this.#setStatus({ vmmPid: null });
    } else if (leaving === 'hibernate') {
      this.#setStatus({ state: 'hibernated', vmmPid: null });
    } else if (leaving === 'stop' || leaving === 'remove') {
      this.#setStatus({ state: 'stopped', vmmPid: null, finishedAt });
    } else if (this.#workloadExit !== undefined) {
      const exitCode = exitCodeOf(this.#workloadExit);
      this.#setStatus({ state: 'exited', exitCode, vmmPid: null, finishedAt });
      this.#log.info({ exitCode }, 'workload exited');
    } else {
      const how =
        exit.signal ??
        (exit.code === null
          ? 'status unknown: it was started by an earlier daemon'
          : `status ${exit.code}`);
      const reason = `the VMM exited unexpectedly (${how})`;
      this.#setStatus({ state: 'failed', reason, vmmPid: null, finishedAt });
      this.#log.warn({ code: exit.code, signal: exit.signal }, reason);
    }
    for (const wake of this.#exitWaiters.splice(0)) wake();
  }

  async #image(): Promise<ResolvedImage> {
    return this.#deps.images.resolve(this.instance.config.imageDigest);
  }

  async #vmSpec(image?: ResolvedImage): Promise<VmSpec> {
    const resolved = image ?? (await this.#image());
    const { config } = this.instance;
    const guestPorts = [...new Set(config.exposes.map((e) => e.guestPort))];
    return {
      id: this.id,
      runDir: path.join(this.dir, 'run'),
      kernelPath: this.#deps.guest.kernelPath,
      initrdPath: this.#deps.guest.initrdPath,
      memoryMib: config.memoryMib,
      cpus: config.cpus,
      disks: [
        { path: resolved.diskPath, readOnly: true },
        { path: path.join(this.dir, 'layer.ext4'), readOnly: false },
      ],
      forwards: guestPorts.map((guestPort) => ({ guestPort, hostPort: 0 })),
    };
  }

  async #dropSnapshot(): Promise<void> {
    const paths = runPaths(path.join(this.dir, 'run'));
    await rm(paths.state, { force: true });
    await rm(paths.memory, { force: true });
  }

  #requireVm(action: string): Vm {
    if (this.#vm === undefined) {
      throw new AegisError(
        'CONFLICT',
        `cannot ${action} instance ${this.instance.name}: it is ${this.state}`,
      );
    }
    return this.#vm;
  }

  #setStatus(patch: Partial<InstanceStatus>): void {
    const before = this.state;
    const status = { ...this.#record.status, ...patch };
    this.#record = this.#deps.store.updateStatus(this.id, status);
    if (this.state === before) return;
    this.#idle.schedule(this.state);
    // Followers of the log end with the workload, and wait again for a
    // new run of it.
    if (isFinal(this.state)) this.logs.end();
    else if (this.state === 'starting') this.logs.reopen();
  }
}

/**
 * Kills a VMM left behind, after checking the pid is still that VMM, and
 * waits until it is gone: it holds the instance's layer disk locked.
 */
async function killVmm(pid: number, instanceId: string): Promise<void> {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(`aegis-${instanceId}\0`)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (
    let waitedMs = 0;
    waitedMs < 5_000 && isProcessAlive(pid);
    waitedMs += 20
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** No VM, and none will start without a user's `start`. */
export function isFinal(state: InstanceState): boolean {
  return ['created', 'stopped', 'exited', 'failed'].includes(state);
}

/** Docker's convention: 128 plus the signal for a killed process. */
function exitCodeOf(status: ExitStatus): number {
  return status.signal === undefined ? status.exitCode : 128 + status.signal;
}

/** A valid hostname from an instance name (which allows `_` and `.`). */
function hostname(name: string): string {
  return name.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 63);
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
