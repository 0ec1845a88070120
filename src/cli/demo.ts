import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { demoImage, guestArtifacts } from '../guest/artifacts.ts';
import { createLayerDisk } from '../guest/layer.ts';
import { createLogger } from '../log.ts';
import { QemuBackend } from '../vmm/qemu/qemu-backend.ts';

const DEMO_GUEST_PORT = 7777;

interface DemoOptions {
  port: number;
  exit: boolean;
}

/** Boots the demo image and serves its page on a host port. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('boot the demo image and serve its web page')
    .option('-p, --port <port>', 'host port for the page', parsePort, 8080)
    .option('--exit', 'stop after the first answer instead of serving')
    .action((options: DemoOptions) => runDemo(options));
}

async function runDemo(options: DemoOptions): Promise<void> {
  const home = process.env.AEGIS_HOME ?? path.join(os.homedir(), '.aegis');
  const dir = path.join(home, 'demo');
  const image = demoImage();
  const config = JSON.parse(await readFile(image.configPath, 'utf8'));
  await rm(dir, { recursive: true, force: true });
  await createLayerDisk(path.join(dir, 'layer.ext4'), 256);
  const started = performance.now();
  const vm = await new QemuBackend().boot(
    {
      id: 'demo',
      runDir: path.join(dir, 'run'),
      ...guestArtifacts(),
      memoryMib: 128,
      cpus: 1,
      disks: [
        { path: image.diskPath, readOnly: true },
        { path: path.join(dir, 'layer.ext4'), readOnly: false },
      ],
      forwards: [{ guestPort: DEMO_GUEST_PORT, hostPort: options.port }],
    },
    createLogger({ level: process.env.AEGIS_LOG_LEVEL ?? 'warn' }),
  );
  try {
    await serve(vm, config, options, started);
  } finally {
    await vm.stop(5_000);
    await rm(dir, { recursive: true, force: true });
  }
}

type DemoVm = Awaited<ReturnType<QemuBackend['boot']>>;

async function serve(
  vm: DemoVm,
  config: { entrypoint: string[]; cmd: string[]; env: string[] },
  options: DemoOptions,
  started: number,
): Promise<void> {
  const hello = await vm.channel.waitForHello(60_000);
  const bootMs = Math.round(performance.now() - started);
  say(`booted in ${bootMs} ms (agent ${hello.agentVersion})`);
  vm.channel.on('log', (record) => say(`guest: ${record.line.toString()}`));
  await vm.channel.start({
    argv: [...config.entrypoint, ...config.cmd],
    env: config.env,
  });
  const url = `http://127.0.0.1:${options.port}/`;
  const page = await firstAnswer(url);
  say(`GET ${url} answered:\n${page.trim()}`);
  if (options.exit) return;
  say('serving; press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    void vm.exited.then(() => resolve());
  });
}

async function firstAnswer(url: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      return await response.text();
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidArgumentError(`port "${raw}" is not 1 to 65535`);
  }
  return port;
}
