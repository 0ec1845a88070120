/**
 * Scale-to-zero benchmark, end to end through a real daemon and its
 * router, with a cold boot measured alongside as the baseline:
 *   - cold boot: start of a stopped instance to the first response byte;
 *   - paused → first response byte;
 *   - hibernated → first response byte, 128 and 512 MiB guests;
 *   - hibernation time (snapshot and VMM exit, from the daemon's log);
 *   - density: N instances left to hibernate, then the VMM processes and
 *     the daemon's memory counted, and a sample woken.
 *
 * Usage: node bench/scale-to-zero.ts [--runs 5] [--density 100]
 *        (after `bash scripts/setup.sh`)
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DaemonClient } from '../src/daemon/client.ts';
import type { Instance, InstanceState } from '../src/daemon/model.ts';
import { findFreePort } from '../src/vmm/ports.ts';
import { Aegis, vmmPids } from '../test/e2e/helpers.ts';
import { formatMs, median, printTable } from './stats.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    density: { type: 'string', default: '100' },
  },
});
const RUNS = Number(flags.runs);
const DENSITY = Number(flags.density);
const IMAGE = 'aegis-demo:latest';
const POLL_MS = 20;
/** Instances booting at once while the density set is created. */
const DENSITY_PARALLEL = 2;
const WOKEN_SAMPLE = 5;

const aegis = new Aegis();
const client = new DaemonClient(path.join(aegis.home, 'aegisd.sock'));

interface Idle {
  pauseAfterMs: number | null;
  hibernateAfterMs: number | null;
}

async function create(
  name: string,
  idle: Idle,
  memoryMib = 128,
  start = true,
): Promise<{ instance: Instance; port: number }> {
  const port = await findFreePort();
  const instance = await client.createInstance({
    image: IMAGE,
    name,
    memoryMib,
    exposes: [`${port}:7777`],
    idle,
    start,
  });
  return { instance, port };
}

async function waitFor(name: string, state: InstanceState): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await client.getInstance(name)).status.state !== state) {
    if (Date.now() > deadline) throw new Error(`${name} never got ${state}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Sends GET / through the router; resolves at the first response byte. */
function firstByteMs(port: number): Promise<number> {
  const started = performance.now();
  const socket = net.createConnection({ host: '127.0.0.1', port });
  socket.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n');
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk) => {
      const ms = performance.now() - started;
      socket.destroy();
      const status = chunk.toString('latin1').split(' ')[1];
      if (status === '200') resolve(ms);
      else reject(new Error(`answered ${status}, not 200`));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without a byte')));
  });
}

async function coldBoots(): Promise<number[]> {
  const idle = { pauseAfterMs: null, hibernateAfterMs: null };
  const { port } = await create('cold', idle, 128, false);
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    await client.act('cold', 'start');
    await firstByteMs(port);
    times.push(performance.now() - started);
    await client.act('cold', 'stop', 0);
  }
  await client.removeInstance('cold', true);
  return times;
}

async function pausedWakes(): Promise<number[]> {
  const idle = { pauseAfterMs: 1_000, hibernateAfterMs: null };
  const { port } = await create('nap', idle);
  await firstByteMs(port);
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await waitFor('nap', 'paused');
    times.push(await firstByteMs(port));
  }
  await client.removeInstance('nap', true);
  return times;
}

async function hibernatedWakes(memoryMib: number) {
  const name = `hibernate-${memoryMib}`;
  const idle = { pauseAfterMs: null, hibernateAfterMs: 1_000 };
  const { instance, port } = await create(name, idle, memoryMib);
  await firstByteMs(port);
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await waitFor(name, 'hibernated');
    times.push(await firstByteMs(port));
  }
  const hibernations = logDurations(instance.id, 'hibernated');
  await client.removeInstance(name, true);
  return { wake: times, hibernate: hibernations };
}

async function density() {
  const idle = { pauseAfterMs: null, hibernateAfterMs: 1_000 };
  const names = Array.from({ length: DENSITY }, (_, i) => `dense-${i}`);
  const ports = new Map<string, number>();
  const started = performance.now();
  for (let at = 0; at < names.length; at += DENSITY_PARALLEL) {
    const batch = names.slice(at, at + DENSITY_PARALLEL);
    await Promise.all(
      batch.map(async (name) => {
        ports.set(name, (await create(name, idle)).port);
      }),
    );
  }
  for (const name of names) await waitFor(name, 'hibernated');
  const settledS = (performance.now() - started) / 1000;
  const instances = await client.listInstances();
  const vmms = instances.flatMap((i) => vmmPids(i.id)).length;
  const daemonMib = daemonRssMib();
  const sample = names.filter((_, i) => i % (DENSITY / WOKEN_SAMPLE) === 0);
  const wakes: number[] = [];
  for (const name of sample) wakes.push(await firstByteMs(ports.get(name)!));
  for (const name of names) await client.removeInstance(name, true);
  return { settledS, vmms, daemonMib, wakes };
}

/** durationMs of the daemon's log lines with this message for an id. */
function logDurations(instanceId: string, msg: string): number[] {
  const log = readFileSync(path.join(aegis.home, 'aegisd.log'), 'utf8');
  const durations: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes(instanceId) || !line.includes(`"msg":"${msg}"`)) {
      continue;
    }
    const record = JSON.parse(line) as { durationMs?: number };
    if (record.durationMs !== undefined) durations.push(record.durationMs);
  }
  return durations;
}

function daemonRssMib(): number {
  const pidFile = path.join(aegis.home, 'aegisd.pid');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

function summary(times: number[]): string {
  const spread = `${formatMs(Math.min(...times))}–${formatMs(Math.max(...times))}`;
  return `${formatMs(median(times))} (${spread})`;
}

async function main(): Promise<void> {
  process.stdout.write(
    `aegis scale-to-zero benchmark: ${RUNS} runs each, ` +
      `${DENSITY} instances for density, TCG or KVM as detected\n`,
  );
  await aegis.loadDemo();
  const cold = await coldBoots();
  const paused = await pausedWakes();
  const small = await hibernatedWakes(128);
  const large = await hibernatedWakes(512);
  const dense = await density();
  const coldMs = median(cold);
  const ratio = (times: number[]) =>
    `${(median(times) / coldMs).toFixed(2)}× a cold boot`;

  printTable('baseline', [
    { name: 'cold boot to first byte, 128 MiB', value: summary(cold) },
  ]);
  printTable('wake on ingress (request to first response byte)', [
    {
      name: 'paused',
      value: summary(paused),
      goal: '≤ 10 ms',
      note: ratio(paused),
    },
    {
      name: 'hibernated, 128 MiB',
      value: summary(small.wake),
      goal: '≤ 150 ms, ≤ 0.3× cold',
      note: ratio(small.wake),
    },
    {
      name: 'hibernated, 512 MiB',
      value: summary(large.wake),
      goal: '≤ 150 ms, ≤ 0.3× cold',
      note: ratio(large.wake),
    },
  ]);
  printTable('hibernation (snapshot to VMM gone)', [
    { name: '128 MiB', value: summary(small.hibernate), goal: '≤ 30 ms' },
    { name: '512 MiB', value: summary(large.hibernate), goal: '≤ 30 ms' },
  ]);
  printTable(`density (${DENSITY} instances, hibernated)`, [
    {
      name: 'created and all hibernated in',
      value: `${dense.settledS.toFixed(0)} s`,
    },
    { name: 'VMM processes left', value: String(dense.vmms), goal: '0' },
    {
      name: 'daemon RSS',
      value: `${dense.daemonMib.toFixed(0)} MiB`,
      goal: '< 150 MB',
    },
    {
      name: `wake of ${dense.wakes.length} of them, first byte`,
      value: summary(dense.wakes),
    },
  ]);
}

try {
  await main();
} finally {
  await aegis.dispose();
}
