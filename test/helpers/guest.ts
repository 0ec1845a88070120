/**
 * Boots real VMs for tests: the project's guest kernel and agent, the demo
 * image's disk shared read-only, and a fresh writable layer per VM.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogRecord } from '../../src/control/channel.ts';
import type { ProcessSpec } from '../../src/control/messages.ts';
import { demoImage, guestArtifacts } from '../../src/guest/artifacts.ts';
import { createLayerDisk } from '../../src/guest/layer.ts';
import { createLogger } from '../../src/log.ts';
import type { PortForward, VmSpec } from '../../src/vmm/backend.ts';
import { QemuBackend } from '../../src/vmm/qemu/qemu-backend.ts';
import type { QemuVm } from '../../src/vmm/qemu/qemu-vm.ts';

export const DEMO_PORT = 7777;
export const backend = new QemuBackend();
export const log = createLogger({
  level: process.env.AEGIS_LOG_LEVEL ?? 'silent',
});

export interface DemoImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
}

export async function demoConfig(): Promise<DemoImageConfig> {
  const text = await readFile(demoImage().configPath, 'utf8');
  return JSON.parse(text) as DemoImageConfig;
}

/** The demo image's HTTP server, as its image config says to run it. */
export async function demoWorkload(): Promise<ProcessSpec> {
  const config = await demoConfig();
  return {
    argv: [...config.entrypoint, ...config.cmd],
    env: config.env,
    cwd: config.workingDir,
  };
}

export interface TestVm {
  vm: QemuVm;
  spec: VmSpec;
  dir: string;
  /** The host port forwarded to the demo's port 7777. */
  port: number;
  dispose(): Promise<void>;
}

export interface BootOptions {
  id?: string;
  memoryMib?: number;
  forwards?: PortForward[];
  initrdPath?: string;
  /** Start this workload once the agent says hello (default: the demo). */
  workload?: ProcessSpec | null;
  /** Receives the workload's log records from the very first one. */
  onLog?: (record: LogRecord) => void;
}

export async function makeSpec(options: BootOptions = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'aegis-t-'));
  const artifacts = guestArtifacts();
  const layerPath = path.join(dir, 'layer.ext4');
  await createLayerDisk(layerPath, 256);
  const spec: VmSpec = {
    id: options.id ?? path.basename(dir),
    runDir: path.join(dir, 'run'),
    kernelPath: artifacts.kernelPath,
    initrdPath: options.initrdPath ?? artifacts.initrdPath,
    memoryMib: options.memoryMib ?? 128,
    cpus: 1,
    disks: [
      { path: demoImage().diskPath, readOnly: true },
      { path: layerPath, readOnly: false },
    ],
    forwards: options.forwards ?? [{ guestPort: DEMO_PORT, hostPort: 0 }],
  };
  return { dir, spec };
}

/** Boots a VM, waits for the agent and starts the workload. */
export async function bootVm(options: BootOptions = {}): Promise<TestVm> {
  const { dir, spec } = await makeSpec(options);
  const vm = await backend.boot(spec, log);
  if (options.onLog !== undefined) vm.channel.on('log', options.onLog);
  const dispose = async () => {
    await vm.kill();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await vm.channel.waitForHello(60_000);
    const workload =
      options.workload === undefined ? await demoWorkload() : options.workload;
    if (workload !== null) await vm.channel.start(workload);
  } catch (error) {
    await dispose();
    throw error;
  }
  const port = vm.forwards[0]?.hostPort ?? 0;
  return { vm, spec, dir, port, dispose };
}

/**
 * GETs a path through a forwarded port, retrying while the guest's server
 * is not listening yet (the forward then resets the connection).
 */
export async function httpGet(
  port: number,
  urlPath = '/',
  attempts = 100,
): Promise<{ status: number; body: string }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
        signal: AbortSignal.timeout(10_000),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      lastError = error;
      await sleep(50);
    }
  }
  throw lastError;
}

/** Runs a command in the guest and collects its output. */
export async function execIn(vm: QemuVm, argv: string[], input?: string) {
  const session = vm.channel.exec({ argv, stdin: input !== undefined });
  const stdout = collect(session.stdout);
  const stderr = collect(session.stderr);
  if (input !== undefined) {
    await session.write(Buffer.from(input));
    session.end();
  }
  const status = await session.exited;
  return { status, stdout: await stdout, stderr: await stderr };
}

export async function collect(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * How far the guest's wall clock is from the host's, in seconds. The guest
 * prints whole seconds, so the answer is bounded by the host clock read
 * before and after asking: 0 when the guest's second lies between them.
 */
export async function guestClockSkewS(vm: QemuVm): Promise<number> {
  const beforeS = Math.floor(Date.now() / 1000);
  const { stdout } = await execIn(vm, ['date', '+%s']);
  const afterS = Math.ceil(Date.now() / 1000);
  const guestS = Number(stdout);
  if (guestS < beforeS) return beforeS - guestS;
  if (guestS > afterS) return guestS - afterS;
  return 0;
}

/** Polls until condition() holds; fails after timeoutMs. */
export async function waitFor(condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
