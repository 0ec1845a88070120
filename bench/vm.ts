/**
 * MicroVM benchmark: cold boot, resume, snapshot, restore and memory, as
 * medians of several runs in one invocation, with the baselines measured
 * alongside (cold boot to first byte for restore; a running guest's answer
 * for resume).
 *
 * Usage: node bench/vm.ts [--runs N]     (after `bash scripts/setup.sh`)
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { QemuVm } from '../src/vmm/qemu/qemu-vm.ts';
import { backend, demoWorkload, log, makeSpec } from '../test/helpers/guest.ts';
import { formatMs, median, printTable, repeat } from './stats.ts';

const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '5' } },
});
const RUNS = Number(flags.runs);

interface Booted {
  vm: QemuVm;
  spec: Awaited<ReturnType<typeof makeSpec>>['spec'];
  dir: string;
  port: number;
  helloMs: number;
  firstByteMs: number;
}

async function boot(memoryMib = 128): Promise<Booted> {
  const { dir, spec } = await makeSpec({ memoryMib });
  const started = performance.now();
  const vm = await backend.boot(spec, log);
  await vm.channel.waitForHello(60_000);
  const helloMs = performance.now() - started;
  await vm.channel.start(await demoWorkload());
  const port = vm.forwards[0]!.hostPort;
  await firstByte(port, true);
  const firstByteMs = performance.now() - started;
  return { vm, spec, dir, port, helloMs, firstByteMs };
}

async function dispose(booted: Booted): Promise<void> {
  await booted.vm.kill();
  await rm(booted.dir, { recursive: true, force: true });
}

/** Sends a request and resolves when the first response byte arrives. */
function request(port: number): { sent: Promise<void>; first: Promise<void> } {
  const socket = net.createConnection({ host: '127.0.0.1', port });
  const sent = new Promise<void>((resolve) =>
    socket.once('connect', () => {
      socket.write('GET / HTTP/1.0\r\n\r\n');
      resolve();
    }),
  );
  const first = new Promise<void>((resolve, reject) => {
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without a byte')));
  });
  return { sent, first };
}

/** Retries while the guest server is not listening yet. */
async function firstByte(port: number, retry = false): Promise<void> {
  for (;;) {
    try {
      await request(port).first;
      return;
    } catch (error) {
      if (!retry) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function rssMib(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
  return { rss: field('VmRSS'), anon: field('RssAnon') };
}

/** Cold boots, each ended by a kill -9 whose report is timed. */
async function coldBoots() {
  const hello: number[] = [];
  const firstByteMs: number[] = [];
  const killNoticed: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const booted = await boot();
    hello.push(booted.helloMs);
    firstByteMs.push(booted.firstByteMs);
    const killed = performance.now();
    process.kill(booted.vm.pid, 'SIGKILL');
    await booted.vm.exited;
    killNoticed.push(performance.now() - killed);
    await dispose(booted);
  }
  return {
    hello: median(hello),
    firstByte: median(firstByteMs),
    killNoticed: median(killNoticed),
  };
}

async function resumes(booted: Booted) {
  const running = await repeat(RUNS * 2, async () => {
    const started = performance.now();
    await firstByte(booted.port);
    return performance.now() - started;
  });
  const resumed = await repeat(RUNS * 2, async () => {
    await booted.vm.pause();
    const { sent, first } = request(booted.port);
    await sent;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    await booted.vm.resume();
    await first;
    return performance.now() - started;
  });
  return { running: median(running), resumed: median(resumed) };
}

async function snapshots(memoryMib: number) {
  const times: number[] = [];
  const bytes: number[] = [];
  const restores: number[] = [];
  const restoredRss: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const booted = await boot(memoryMib);
    const snapshot = await booted.vm.snapshot();
    times.push(snapshot.durationMs);
    bytes.push(snapshot.stateBytes);
    await booted.vm.kill();
    const started = performance.now();
    const spec = { ...booted.spec, forwards: [...booted.vm.forwards] };
    const restored = await backend.restore(spec, log);
    await firstByte(booted.port);
    restores.push(performance.now() - started);
    restoredRss.push(rssMib(restored.pid).rss);
    await dispose({ ...booted, vm: restored });
  }
  return {
    snapshot: median(times),
    stateKib: median(bytes) / 1024,
    restore: median(restores),
    restoredRss: median(restoredRss),
  };
}

/** RSS of an idle guest's QEMU, median of samples a second apart. */
async function idleMemory() {
  const booted = await boot();
  const samples: { rss: number; anon: number }[] = [];
  for (let sample = 0; sample < RUNS; sample++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    samples.push(rssMib(booted.vm.pid));
  }
  return {
    booted,
    rss: median(samples.map((s) => s.rss)),
    anon: median(samples.map((s) => s.anon)),
  };
}

async function main(): Promise<void> {
  process.stdout.write(
    `aegis vm benchmark: ${RUNS} runs each, TCG or KVM as detected\n`,
  );
  const cold = await coldBoots();
  const memory = await idleMemory();
  const resume = await resumes(memory.booted);
  await dispose(memory.booted);
  const small = await snapshots(128);
  const large = await snapshots(512);
  // Every figure is set against a cold boot measured in this same run:
  // the cost that pausing and snapshots exist to avoid.
  const ofCold = (ms: number, baseline = cold.firstByte) =>
    `${(ms / baseline).toFixed(3)}× a cold boot`;

  printTable('cold boot (128 MiB guest)', [
    {
      name: 'spawn to agent hello',
      value: formatMs(cold.hello),
      goal: '≤ 600 ms',
    },
    {
      name: 'spawn to first HTTP byte',
      value: formatMs(cold.firstByte),
      note: 'the baseline below',
    },
    {
      name: 'kill -9 of QEMU to its exit reported',
      value: formatMs(cold.killNoticed),
      goal: '≤ 1 s',
    },
  ]);
  printTable('resume', [
    {
      name: 'running guest, request to first byte',
      value: formatMs(resume.running),
    },
    {
      name: 'paused guest, resume to first byte',
      value: formatMs(resume.resumed),
      goal: '≤ 10 ms',
      note:
        `${(resume.resumed / resume.running).toFixed(1)}× a running ` +
        `guest, ${ofCold(resume.resumed)}`,
    },
  ]);
  printTable('snapshot and restore', [
    {
      name: 'snapshot, 128 MiB guest',
      value: `${formatMs(small.snapshot)}, ${small.stateKib.toFixed(0)} KiB`,
      goal: '≤ 30 ms',
      note: ofCold(small.snapshot),
    },
    {
      name: 'snapshot, 512 MiB guest',
      value: `${formatMs(large.snapshot)}, ${large.stateKib.toFixed(0)} KiB`,
      goal: '≤ 30 ms',
      note: ofCold(large.snapshot),
    },
    {
      name: 'restore to first byte, 128 MiB',
      value: formatMs(small.restore),
      goal: '≤ 150 ms',
      note: ofCold(small.restore),
    },
    {
      name: 'restore to first byte, 512 MiB',
      value: formatMs(large.restore),
      goal: '≤ 150 ms',
      note: ofCold(large.restore),
    },
  ]);
  printTable('memory (128 MiB guest)', [
    {
      name: 'QEMU RSS, idle guest',
      value:
        `${memory.rss.toFixed(0)} MiB ` +
        `(${memory.anon.toFixed(0)} MiB anonymous)`,
      note: `${(memory.rss / 128).toFixed(2)}× the guest's RAM`,
    },
    {
      name: 'QEMU RSS, after a restore',
      value: `${small.restoredRss.toFixed(0)} MiB`,
      note: `${(small.restoredRss / memory.rss).toFixed(2)}× an idle guest`,
    },
  ]);
}

await main();
