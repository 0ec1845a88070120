/**
 * Side-by-side boot of the project's guest kernel and Debian's stock cloud
 * kernel (virtio drivers as modules, loaded by the agent from the
 * initramfs), alternating runs in one invocation.
 *
 * Usage: node bench/kernels.ts [--runs N]   (after `bash scripts/setup.sh`)
 * Needs Debian's apt: the cloud kernel package is fetched with
 * `apt-get download` into the cache and unpacked there, never installed.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { guestDir } from '../src/guest/artifacts.ts';
import { type CpioEntry, writeCpio } from '../src/guest/cpio.ts';
import { backend, demoWorkload, log, makeSpec } from '../test/helpers/guest.ts';
import { formatMs, median, printTable } from './stats.ts';

const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '5' } },
});
const RUNS = Number(flags.runs);

/** Debian's virtio drivers, in the order their dependencies need. */
const MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_mmio.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
  'drivers/block/virtio_blk.ko',
  'drivers/char/virtio_console.ko',
  'fs/overlayfs/overlay.ko',
];

interface Kernel {
  name: string;
  kernelPath: string;
  initrdPath: string;
  acpi: boolean;
}

function debianKernel(): Kernel {
  const cache =
    process.env.AEGIS_CACHE ?? path.join(os.homedir(), '.cache/aegis');
  const dir = path.join(cache, 'debian-cloud-kernel');
  if (!existsSync(path.join(dir, 'root'))) {
    mkdirSync(dir, { recursive: true });
    const meta = execFileSync(
      'apt-cache',
      ['depends', 'linux-image-cloud-amd64'],
      {
        encoding: 'utf8',
      },
    );
    const image = /Depends: (linux-image-\S+-cloud-amd64)/.exec(meta)?.[1];
    if (image === undefined) throw new Error('no linux-image-*-cloud-amd64');
    execFileSync('apt-get', ['download', image], { cwd: dir, stdio: 'ignore' });
    const deb = readdirSync(dir).find((name) => name.endsWith('.deb'))!;
    execFileSync('dpkg-deb', ['-x', deb, 'root'], { cwd: dir });
  }
  const boot = path.join(dir, 'root/boot');
  const vmlinuz = readdirSync(boot).find((name) =>
    name.startsWith('vmlinuz-'),
  )!;
  const release = vmlinuz.slice('vmlinuz-'.length);
  const modules = path.join(dir, 'root/lib/modules', release, 'kernel');
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'dev', mode: 0o755 },
    { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { kind: 'dir', path: 'proc', mode: 0o755 },
    { kind: 'dir', path: 'sys', mode: 0o755 },
    { kind: 'dir', path: 'aegis', mode: 0o755 },
    { kind: 'dir', path: 'lib', mode: 0o755 },
    { kind: 'dir', path: 'lib/modules', mode: 0o755 },
    { kind: 'dir', path: 'lib/modules/aegis', mode: 0o755 },
    {
      kind: 'file',
      path: 'lib/modules/aegis/order',
      mode: 0o644,
      data: Buffer.from(MODULES.map((m) => path.basename(m)).join('\n')),
    },
    ...MODULES.map(
      (module): CpioEntry => ({
        kind: 'file',
        path: `lib/modules/aegis/${path.basename(module)}`,
        mode: 0o644,
        data: readFileSync(path.join(modules, module)),
      }),
    ),
    {
      kind: 'file',
      path: 'init',
      mode: 0o755,
      data: readFileSync(path.join(guestDir(), 'aegis-agent')),
    },
  ];
  const initrdPath = path.join(dir, 'initrd.img');
  writeFileSync(initrdPath, writeCpio(entries));
  return {
    name: `Debian ${release}`,
    kernelPath: path.join(boot, vmlinuz),
    initrdPath,
    acpi: true,
  };
}

async function bootOnce(kernel: Kernel) {
  const { spec } = await makeSpec();
  spec.kernelPath = kernel.kernelPath;
  spec.initrdPath = kernel.initrdPath;
  spec.acpi = kernel.acpi;
  const started = performance.now();
  const vm = await backend.boot(spec, log);
  await vm.channel.waitForHello(60_000);
  const helloMs = performance.now() - started;
  await vm.channel.start(await demoWorkload());
  await firstAnswer(vm.forwards[0]!.hostPort);
  const answerMs = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const rssMib = readRssMib(vm.pid);
  await vm.kill();
  return { helloMs, answerMs, rssMib };
}

async function firstAnswer(port: number): Promise<void> {
  for (;;) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).text();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function readRssMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

async function main(): Promise<void> {
  const ours: Kernel = {
    name: 'Aegis kernel',
    kernelPath: path.join(guestDir(), 'vmlinux'),
    initrdPath: path.join(guestDir(), 'initrd.img'),
    acpi: false,
  };
  const debian = debianKernel();
  const results = new Map<string, Awaited<ReturnType<typeof bootOnce>>[]>();
  for (let run = 0; run < RUNS; run++) {
    for (const kernel of [ours, debian]) {
      const list = results.get(kernel.name) ?? [];
      list.push(await bootOnce(kernel));
      results.set(kernel.name, list);
    }
  }
  const summary = (name: string) => {
    const list = results.get(name)!;
    return {
      hello: median(list.map((r) => r.helloMs)),
      answer: median(list.map((r) => r.answerMs)),
      rss: median(list.map((r) => r.rssMib)),
    };
  };
  const a = summary(ours.name);
  const d = summary(debian.name);
  printTable(`guest kernels, 128 MiB guest, ${RUNS} alternating runs`, [
    { name: `${ours.name}: spawn to hello`, value: formatMs(a.hello) },
    { name: `${debian.name}: spawn to hello`, value: formatMs(d.hello) },
    { name: `${ours.name}: spawn to HTTP answer`, value: formatMs(a.answer) },
    {
      name: `${debian.name}: spawn to HTTP answer`,
      value: formatMs(d.answer),
      note: `${(d.answer / a.answer).toFixed(2)}× the Aegis kernel`,
    },
    { name: `${ours.name}: QEMU RSS idle`, value: `${a.rss.toFixed(0)} MiB` },
    { name: `${debian.name}: QEMU RSS idle`, value: `${d.rss.toFixed(0)} MiB` },
  ]);
}

await main();
