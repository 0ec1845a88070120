/**
 * An in-memory InstanceManager for tests of the HTTP API, the client and
 * the CLI. It STANDS IN for the VM-backed manager, which boots real
 * microVMs and is tested end to end on its own: here we exercise only the
 * layers above the manager interface (routing, validation, streaming,
 * the exec framing, exit codes), fast and without QEMU. It keeps its
 * records in the real SQLite store.
 *
 * Workloads are scripted by their cmd: `echo WORDS…` prints a line and
 * exits 0, `exit N` exits N, `lines N` prints N lines and exits 0; any
 * other cmd runs until stopped. Exec runs `echo WORDS…`, `cat` (echoes
 * stdin until it closes), `exit N`, or `sleep` (until a signal).
 */
import { EventEmitter, once } from 'node:events';
import { ExecSession } from '../../../src/control/exec-session.ts';
import type { ExecSpec } from '../../../src/control/messages.ts';
import { overlaps } from '../../../src/daemon/expose.ts';
import type {
  CreateInstanceRequest,
  ImageOperations,
  ImageView,
  InstanceManager,
  LogLine,
  LogQuery,
} from '../../../src/daemon/manager.ts';
import type { Instance, InstanceState } from '../../../src/daemon/model.ts';
import { generateId } from '../../../src/daemon/names.ts';
import type { InstanceStore } from '../../../src/daemon/store/store.ts';
import { AegisError } from '../../../src/errors.ts';

interface ExecRecord {
  spec?: ExecSpec;
  resizes: [number, number][];
  signals: number[];
}

export class MemoryManager implements InstanceManager {
  readonly store: InstanceStore;
  readonly images = new MemoryImages();
  readonly lastExec: ExecRecord = { resizes: [], signals: [] };
  closed = false;
  #logs = new Map<string, LogLine[]>();
  #events = new EventEmitter();

  constructor(store: InstanceStore) {
    this.store = store;
    this.#events.setMaxListeners(0);
  }

  async create(request: CreateInstanceRequest): Promise<Instance> {
    this.#checkPorts(request);
    const { name, start, ...config } = request;
    const instance: Instance = {
      id: generateId(),
      name: name!,
      createdAt: new Date().toISOString(),
      config: { ...config, imageDigest: `sha256:${'0'.repeat(64)}` },
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
    this.store.insert(instance);
    this.#logs.set(instance.id, []);
    return start ? this.#run(instance) : instance;
  }

  list(): Instance[] {
    return this.store.list();
  }

  get(ref: string): Instance {
    return this.store.resolve(ref);
  }

  async start(ref: string): Promise<Instance> {
    const instance = this.get(ref);
    if (instance.status.state === 'running') return instance;
    return this.#run(instance);
  }

  async stop(ref: string, _timeoutMs: number): Promise<Instance> {
    return this.#setState(this.get(ref).id, 'stopped', null);
  }

  async restart(ref: string, timeoutMs: number): Promise<Instance> {
    await this.stop(ref, timeoutMs);
    return this.start(ref);
  }

  async pause(ref: string): Promise<Instance> {
    const instance = this.get(ref);
    if (instance.status.state !== 'running') {
      throw new AegisError(
        'CONFLICT',
        `instance ${instance.name} is ${instance.status.state}, not running`,
      );
    }
    return this.#setState(instance.id, 'paused', null);
  }

  async resume(ref: string): Promise<Instance> {
    return this.#setState(this.get(ref).id, 'running', null);
  }

  async remove(ref: string, force: boolean): Promise<void> {
    const instance = this.get(ref);
    if (instance.status.state === 'running' && !force) {
      throw new AegisError(
        'CONFLICT',
        `instance ${instance.name} is running; stop it first or use force`,
      );
    }
    this.store.delete(instance.id);
    this.#events.emit(instance.id);
  }

  async exec(ref: string, spec: ExecSpec): Promise<ExecSession> {
    this.get(ref);
    this.lastExec.spec = spec;
    this.lastExec.resizes = [];
    this.lastExec.signals = [];
    return scriptedSession(spec, this.lastExec);
  }

  async *logs(ref: string, query: LogQuery): AsyncIterable<LogLine> {
    const { id } = this.get(ref);
    const lines = this.#logs.get(id) ?? [];
    let next = query.tail === null ? 0 : Math.max(0, lines.length - query.tail);
    for (;;) {
      while (next < lines.length) yield lines[next++]!;
      if (!query.follow || this.#ended(id) || query.signal?.aborted) return;
      await once(this.#events, id, { signal: query.signal }).catch(() => {});
    }
  }

  async wait(ref: string, signal?: AbortSignal): Promise<number> {
    const { id } = this.get(ref);
    while (!this.#ended(id)) await once(this.#events, id, { signal });
    return this.store.get(id)?.status.exitCode ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Adds a log line, as a workload printing would. */
  print(id: string, stream: 'stdout' | 'stderr', line: string): void {
    const lines = this.#logs.get(id)!;
    const seq = lines.length + 1;
    lines.push({ seq, time: new Date().toISOString(), stream, line });
    this.#events.emit(id);
  }

  /** Ends the workload with an exit code. */
  exit(id: string, exitCode: number): void {
    this.#setState(id, 'exited', exitCode);
  }

  #ended(id: string): boolean {
    const state = this.store.get(id)?.status.state;
    return state === undefined || state === 'exited' || state === 'stopped';
  }

  #run(instance: Instance): Instance {
    const started = this.#setState(instance.id, 'running', null);
    const [program, ...args] = instance.config.cmd ?? [];
    setImmediate(() => this.#script(instance.id, program, args));
    return started;
  }

  #script(id: string, program: string | undefined, args: string[]): void {
    if (program === 'echo') {
      this.print(id, 'stdout', args.join(' '));
      this.exit(id, 0);
    } else if (program === 'exit') {
      this.print(id, 'stderr', `exiting with ${args[0]}`);
      this.exit(id, Number(args[0]));
    } else if (program === 'lines') {
      for (let n = 1; n <= Number(args[0]); n++) {
        this.print(id, 'stdout', `line ${n}`);
      }
      this.exit(id, 0);
    }
  }

  #setState(
    id: string,
    state: InstanceState,
    exitCode: number | null,
  ): Instance {
    const current = this.store.get(id)!;
    const instance = this.store.updateStatus(id, {
      ...current.status,
      state,
      exitCode,
    });
    this.#events.emit(id);
    return instance;
  }

  #checkPorts(request: CreateInstanceRequest): void {
    for (const other of this.store.list()) {
      for (const expose of request.exposes) {
        if (other.config.exposes.some((taken) => overlaps(taken, expose))) {
          throw new AegisError(
            'CONFLICT',
            `host port ${expose.hostPort} is already exposed by ${other.name}`,
          );
        }
      }
    }
  }
}

/** A session whose "process" is scripted by its argv (see above). */
function scriptedSession(spec: ExecSpec, record: ExecRecord): ExecSession {
  const [program, ...args] = spec.argv;
  const session: ExecSession = new ExecSession(1, {
    sendStdin(_stream, data) {
      setImmediate(() => {
        if (session.done) return;
        if (data.length === 0) return finish(session, 0);
        session.onOutput('stdout', data);
        session.onWindow(data.length);
      });
      return true;
    },
    sendResize(_stream, rows, cols) {
      record.resizes.push([rows, cols]);
    },
    sendSignal(_stream, signal) {
      record.signals.push(signal);
      setImmediate(() => session.onExit({ signal }));
    },
  });
  setImmediate(() => {
    if (program === 'echo') {
      session.onStarted(42);
      session.onOutput('stdout', Buffer.from(`${args.join(' ')}\n`));
      session.onOutput('stderr', Buffer.from('to stderr\n'));
      finish(session, 0);
    } else if (program === 'exit') {
      session.onStarted(42);
      finish(session, Number(args[0]));
    } else if (program === 'cat' || program === 'sleep') {
      session.onStarted(42);
    } else {
      session.onError(
        new AegisError('GUEST_ERROR', `cannot run "${program}": not found`),
      );
    }
  });
  return session;
}

function finish(session: ExecSession, exitCode: number): void {
  session.onOutput('stdout', Buffer.alloc(0));
  session.onOutput('stderr', Buffer.alloc(0));
  session.onExit({ exitCode });
}

/**
 * Images for the stand-in: a load records one image under its tag and
 * counts the archive's bytes; nothing is unpacked and nothing is pulled.
 */
class MemoryImages implements ImageOperations {
  #images = new Map<string, ImageView>();

  async pull(ref: string): Promise<ImageView> {
    throw new AegisError('NOT_FOUND', `the stand-in has no registry: ${ref}`);
  }

  async load(source: AsyncIterable<Buffer>, tag: string | null) {
    let bytes = 0;
    for await (const chunk of source) bytes += chunk.length;
    const digest = `sha256:${bytes.toString(16).padStart(64, '0')}`;
    const image: ImageView = {
      digest,
      refs: tag === null ? [] : [tag],
      diskBytes: bytes,
      createdAt: new Date().toISOString(),
    };
    this.#images.set(digest, image);
    return [image];
  }

  async list(): Promise<ImageView[]> {
    return [...this.#images.values()];
  }

  async remove(ref: string): Promise<string[]> {
    for (const [digest, image] of this.#images) {
      if (digest === ref || image.refs.includes(ref)) {
        this.#images.delete(digest);
        return [...image.refs];
      }
    }
    throw new AegisError('NOT_FOUND', `no image ${ref}`);
  }

  async prune() {
    return { removedImages: [], freedBytes: 0 };
  }
}
