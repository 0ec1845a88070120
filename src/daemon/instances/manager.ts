import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExecSession } from '../../control/exec-session.ts';
import type { ExecSpec } from '../../control/messages.ts';
import { AegisError, describeError, isAegisError } from '../../errors.ts';
import { guestArtifacts } from '../../guest/artifacts.ts';
import { ImageStore, type ResolvedImage } from '../../images/index.ts';
import type { Logger } from '../../log.ts';
import { Router } from '../../router/index.ts';
import { QemuBackend } from '../../vmm/qemu/qemu-backend.ts';
import { overlaps } from '../expose.ts';
import { imageSettings } from '../image-settings.ts';
import type { ManagerContext } from '../main.ts';
import type {
  CreateInstanceRequest,
  ImageOperations,
  InstanceManager,
  LogLine,
  LogQuery,
} from '../manager.ts';
import type { Expose, Instance } from '../model.ts';
import { generateId, generateName } from '../names.ts';
import type { InstanceStore } from '../store/store.ts';
import { imageOperations } from './images.ts';
import { InstanceRuntime, isFinal, type RuntimeDeps } from './runtime.ts';
import { resolveUser } from './users.ts';
import { workloadSpec } from './workload.ts';

/** Builds the VM-backed manager the daemon serves. */
export async function createInstanceManager(
  context: ManagerContext,
): Promise<VmInstanceManager> {
  const { paths, store, log } = context;
  const { insecureRegistries, limits } = imageSettings(process.env);
  const manager = new VmInstanceManager({
    store,
    instancesDir: paths.instancesDir,
    deps: {
      backend: new QemuBackend(),
      router: new Router({ logger: log }),
      store,
      images: new ImageStore({
        root: path.join(paths.home, 'images'),
        log,
        limits,
        insecureRegistries,
      }),
      guest: guestArtifacts(),
      log,
    },
  });
  await manager.recover();
  return manager;
}

export interface ManagerOptions {
  store: InstanceStore;
  instancesDir: string;
  deps: RuntimeDeps;
}

/**
 * Instances backed by real VMs: the daemon's one owner of VMs, router
 * listeners and logs. Every instance has a runtime for as long as it
 * exists, so its exposed ports are held even while it is stopped.
 */
export class VmInstanceManager implements InstanceManager {
  readonly images: ImageOperations;
  readonly imageStore: ImageStore;
  #store: InstanceStore;
  #instancesDir: string;
  #deps: RuntimeDeps;
  #log: Logger;
  #runtimes = new Map<string, InstanceRuntime>();

  constructor(options: ManagerOptions) {
    this.#store = options.store;
    this.#instancesDir = options.instancesDir;
    this.#deps = options.deps;
    this.#log = options.deps.log;
    this.imageStore = options.deps.images;
    this.images = imageOperations(this.imageStore, () => this.imagesInUse());
  }

  /**
   * After a daemon start: every instance gets its listeners back. What
   * was hibernated wakes on its next connection; a VM that was running
   * when the daemon died is gone with its memory, and says so.
   */
  async recover(): Promise<void> {
    for (const instance of this.#store.list()) {
      const runtime = this.#runtime(instance);
      await runtime.recover();
      if (instance.config.autoRemove && isFinal(runtime.state)) {
        // Its `aegis run` is gone with the previous daemon.
        await this.#forget(runtime);
        continue;
      }
      try {
        await runtime.bindListeners();
      } catch (error) {
        this.#log.error(
          { instance: instance.id, reason: describeError(error) },
          'an exposed port could not be bound again',
        );
      }
    }
  }

  async create(request: CreateInstanceRequest): Promise<Instance> {
    const name = request.name ?? this.#freeName();
    this.#checkName(name);
    this.#checkPorts(request.exposes);
    const image = await this.#resolveImage(request.image);
    const instance = newInstance(name, request, image);
    // What would only fail at boot is refused now, with nothing created.
    const credentials = await resolveUser(image.config.user, image.diskPath);
    workloadSpec(image.config, instance.config, credentials);
    // The store refuses a name taken meanwhile, before anything is made.
    this.#store.insert(instance);
    const runtime = this.#runtime(instance);
    try {
      await mkdir(runtime.dir, { recursive: true, mode: 0o700 });
      await runtime.bindListeners();
    } catch (error) {
      await this.#forget(runtime);
      throw error;
    }
    this.#log.info({ instance: instance.id, name }, 'instance created');
    if (request.start) await this.#startNew(runtime, request.autoRemove);
    return runtime.instance;
  }

  /** A throw-away instance that cannot start is not left behind. */
  async #startNew(runtime: InstanceRuntime, autoRemove: boolean) {
    try {
      await runtime.start();
    } catch (error) {
      if (autoRemove) {
        await runtime.remove();
        await this.#forget(runtime);
      }
      throw error;
    }
  }

  list(): Instance[] {
    return this.#store
      .list()
      .map((i) => this.#runtimes.get(i.id)?.instance ?? i);
  }

  get(ref: string): Instance {
    return this.#find(ref).instance;
  }

  async start(ref: string): Promise<Instance> {
    const runtime = this.#find(ref);
    await runtime.start();
    return runtime.instance;
  }

  async stop(ref: string, timeoutMs: number): Promise<Instance> {
    const runtime = this.#find(ref);
    await runtime.stop(timeoutMs);
    return runtime.instance;
  }

  async restart(ref: string, timeoutMs: number): Promise<Instance> {
    const runtime = this.#find(ref);
    await runtime.stop(timeoutMs);
    await runtime.start();
    return runtime.instance;
  }

  async pause(ref: string): Promise<Instance> {
    const runtime = this.#find(ref);
    await runtime.pause();
    return runtime.instance;
  }

  async resume(ref: string): Promise<Instance> {
    const runtime = this.#find(ref);
    await runtime.resume();
    return runtime.instance;
  }

  async remove(ref: string, force: boolean): Promise<void> {
    const runtime = this.#find(ref);
    const { state } = runtime.instance.status;
    if (!force && !isFinal(state)) {
      throw new AegisError(
        'CONFLICT',
        `instance ${runtime.instance.name} is ${state}; stop it first or ` +
          'remove it with --force',
      );
    }
    await runtime.remove();
    await this.#forget(runtime);
    this.#log.info({ instance: runtime.id }, 'instance removed');
  }

  exec(ref: string, spec: ExecSpec): Promise<ExecSession> {
    return this.#find(ref).exec(spec);
  }

  logs(ref: string, query: LogQuery): AsyncIterable<LogLine> {
    return this.#find(ref).logs.read(query);
  }

  wait(ref: string, signal?: AbortSignal): Promise<number> {
    return this.#find(ref).wait(signal);
  }

  /**
   * Daemon shutdown: the ports close first, so that no connection wakes a
   * VM meanwhile; then every VM is hibernated, so nothing is lost.
   */
  async close(): Promise<void> {
    const runtimes = [...this.#runtimes.values()];
    await Promise.all(
      runtimes.map(async (runtime) => {
        try {
          await runtime.shutdown();
        } catch (error) {
          this.#log.error(
            { instance: runtime.id, reason: describeError(error) },
            'could not hibernate; the VM is stopped instead',
          );
          await runtime.stop(5_000).catch(() => {});
        }
        runtime.logs.close();
      }),
    );
    await this.#deps.router.close();
  }

  /** Digests of the images instances use, which prune must keep. */
  imagesInUse(): Set<string> {
    return new Set(this.#store.list().map((i) => i.config.imageDigest));
  }

  #runtime(instance: Instance): InstanceRuntime {
    const dir = path.join(this.#instancesDir, instance.id);
    const runtime = new InstanceRuntime(instance, dir, this.#deps);
    this.#runtimes.set(instance.id, runtime);
    return runtime;
  }

  async #forget(runtime: InstanceRuntime): Promise<void> {
    await runtime.closeListeners();
    runtime.logs.close();
    this.#runtimes.delete(runtime.id);
    this.#store.delete(runtime.id);
    await rm(runtime.dir, { recursive: true, force: true });
  }

  #find(ref: string): InstanceRuntime {
    const instance = this.#store.resolve(ref);
    const runtime = this.#runtimes.get(instance.id);
    if (runtime === undefined) {
      throw new AegisError(
        'INTERNAL',
        `instance ${instance.id} has no runtime`,
      );
    }
    return runtime;
  }

  async #resolveImage(ref: string): Promise<ResolvedImage> {
    try {
      return await this.imageStore.resolve(ref);
    } catch (error) {
      if (!isAegisError(error, 'NOT_FOUND')) throw error;
      return this.imageStore.pull(ref);
    }
  }

  #checkName(name: string): void {
    if (this.#store.getByName(name) !== undefined) {
      throw new AegisError(
        'CONFLICT',
        `the name "${name}" is already used by an instance; pick another ` +
          'name or remove that instance',
      );
    }
  }

  #checkPorts(exposes: readonly Expose[]): void {
    for (const other of this.#store.list()) {
      for (const mine of exposes) {
        const clash = other.config.exposes.find((theirs) =>
          overlaps(mine, theirs),
        );
        if (clash === undefined) continue;
        throw new AegisError(
          'CONFLICT',
          `host port ${mine.bindHost}:${mine.hostPort} is already exposed ` +
            `by instance ${other.name}; pick another host port`,
        );
      }
    }
  }

  #freeName(): string {
    return generateName(new Set(this.#store.list().map((i) => i.name)));
  }
}

function newInstance(
  name: string,
  request: CreateInstanceRequest,
  image: ResolvedImage,
): Instance {
  return {
    id: generateId(),
    name,
    createdAt: new Date().toISOString(),
    config: {
      image: request.image,
      imageDigest: image.digest,
      entrypoint: request.entrypoint,
      cmd: request.cmd,
      env: request.env,
      memoryMib: request.memoryMib,
      cpus: request.cpus,
      exposes: request.exposes,
      retry: request.retry,
      idle: request.idle,
      autoRemove: request.autoRemove,
    },
    status: {
      state: 'created',
      exitCode: null,
      reason: null,
      startedAt: null,
      finishedAt: null,
      lastActivityAt: null,
      nextIdleStepAt: null,
      vmmPid: null,
    },
  };
}
