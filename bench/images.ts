/**
 * Image pull benchmark: Aegis pull + root disk (cold store) against the
 * usual tool chain (skopeo copy to an OCI layout, umoci unpack --rootless,
 * mkfs.ext4 -d), on a ~100 MB image in a local docker-registry. Also times
 * instance disk creation from a cached image, which should not depend on
 * the image's size because instances share the image's disk.
 *
 *   node bench/images.ts            (AEGIS_BENCH_RUNS=5 for more runs)
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAYER_DISK_MIB } from '../src/daemon/instances/runtime.ts';
import { createLayerDisk } from '../src/guest/layer.ts';
import { ImageStore, silentProgress } from '../src/images/index.ts';
import {
  type EntrySpec,
  writeImageLayout,
} from '../test/images/helpers/oci-builder.ts';
import { skopeoPush, startRegistry } from '../test/images/helpers/registry.ts';
import { requireTools } from '../test/images/helpers/tools.ts';

const RUNS = Number(process.env.AEGIS_BENCH_RUNS ?? 3);
const MIB = 1024 * 1024;
const RESOLVE_RUNS = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timeMs(work: () => Promise<unknown> | unknown): Promise<number> {
  const startNs = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - startNs) / 1e6;
}

// Text that compresses about 4:1, like logs or source trees.
function compressibleBytes(sizeBytes: number, seed: string): Buffer {
  const words = Array.from({ length: 512 }, (_, i) =>
    createHash('sha1')
      .update(`${seed}${i}`)
      .digest('hex')
      .slice(0, 3 + (i % 9)),
  );
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < sizeBytes; i++) {
    const word = words[(i * 7919) % words.length]!;
    parts.push(word);
    length += word.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, sizeBytes);
}

function bigImageEntries(): EntrySpec[][] {
  const random = Array.from({ length: 4 }, (_, i) => ({
    name: `opt/blob-${i}.bin`,
    content: randomBytes(10 * MIB),
  }));
  const text = Array.from({ length: 8 }, (_, i) => ({
    name: `usr/share/doc-${i}.txt`,
    content: compressibleBytes(5 * MIB, `doc${i}`),
  }));
  const small = Array.from({ length: 2000 }, (_, i) => ({
    name: `usr/lib/mod-${i % 40}/file-${i}.py`,
    content: compressibleBytes(10 * 1024, `small${i}`),
    mode: 0o644,
    uid: i % 3 === 0 ? 1000 : 0,
  }));
  return [random, text, small];
}

function baselinePull(ref: string, dir: string): void {
  const layout = join(dir, 'layout');
  mkdirSync(dir, { recursive: true });
  execFileSync('skopeo', [
    'copy',
    '--quiet',
    '--src-tls-verify=false',
    `docker://${ref}`,
    `oci:${layout}:bench`,
  ]);
  execFileSync(
    'umoci',
    ['unpack', '--rootless', '--image', `${layout}:bench`, join(dir, 'bundle')],
    {
      stdio: 'ignore',
    },
  );
  const rootfs = join(dir, 'bundle', 'rootfs');
  const usedKib = Number(
    execFileSync('du', ['-sk', rootfs], { encoding: 'utf8' }).split('\t')[0],
  );
  const sizeKib = Math.ceil(usedKib * 1.2) + 16 * 1024;
  execFileSync('mkfs.ext4', [
    '-q',
    '-F',
    '-d',
    rootfs,
    join(dir, 'disk.ext4'),
    `${sizeKib}k`,
  ]);
}

async function main(): Promise<void> {
  requireTools('docker-registry', 'skopeo', 'umoci', 'mkfs.ext4', 'debugfs');
  process.env.PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
  const work = await mkdtemp(join(tmpdir(), 'aegis-bench-images-'));
  const registry = await startRegistry();
  try {
    const layout = join(work, 'layout');
    const layers = bigImageEntries().map((entries) => ({ entries }));
    await writeImageLayout(layout, 'big', { layers });
    await writeImageLayout(layout, 'small', {
      layers: [{ entries: [{ name: 'hello', content: 'hi\n' }] }],
    });
    const bigRef = `${registry.host}/bench/big:v1`;
    const smallRef = `${registry.host}/bench/small:v1`;
    skopeoPush(layout, 'big', bigRef);
    skopeoPush(layout, 'small', smallRef);

    const aegisMs: number[] = [];
    const baselineMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const aegisRoot = join(work, `aegis-${run}`);
      aegisMs.push(
        await timeMs(() =>
          new ImageStore({ root: aegisRoot }).pull(bigRef, {
            progress: silentProgress,
          }),
        ),
      );
      await rm(aegisRoot, { recursive: true, force: true });
      const baseDir = join(work, `baseline-${run}`);
      baselineMs.push(await timeMs(() => baselinePull(bigRef, baseDir)));
      await rm(baseDir, { recursive: true, force: true });
    }

    const store = new ImageStore({ root: join(work, 'cached') });
    await store.pull(bigRef, { progress: silentProgress });
    await store.pull(smallRef, { progress: silentProgress });
    // What creating an instance does with disks: find the image's shared
    // disk and make the instance's own empty layer. Nothing is copied.
    const instanceMs = async (ref: string) => {
      const samples: number[] = [];
      for (let i = 0; i < RESOLVE_RUNS; i++) {
        const layer = join(work, `layer-${i}.ext4`);
        samples.push(
          await timeMs(async () => {
            await store.resolve(ref);
            await createLayerDisk(layer, LAYER_DISK_MIB);
          }),
        );
        await rm(layer);
      }
      return median(samples);
    };
    const smallInstanceMs = await instanceMs(smallRef);
    const bigInstanceMs = await instanceMs(bigRef);

    const aegis = median(aegisMs);
    const baseline = median(baselineMs);
    const rows = [
      [`pull + root disk, ~100 MB, cold store (median of ${RUNS})`, '', ''],
      ['  aegis pull', `${aegis.toFixed(0)} ms`, ''],
      [
        '  skopeo copy + umoci unpack --rootless + mkfs.ext4 -d',
        `${baseline.toFixed(0)} ms`,
        '',
      ],
      ['  ratio aegis / baseline', (aegis / baseline).toFixed(2), ''],
      [
        `instance disks from a cached image (median of ${RESOLVE_RUNS})`,
        '',
        '',
      ],
      ['  small image', `${smallInstanceMs.toFixed(3)} ms`, ''],
      ['  ~100 MB image', `${bigInstanceMs.toFixed(3)} ms`, ''],
      [
        '  ratio 100 MB / small',
        (bigInstanceMs / smallInstanceMs).toFixed(2),
        '',
      ],
    ];
    for (const [label, value] of rows)
      console.log(`${label!.padEnd(60)} ${value}`);
    const list = (values: number[]) =>
      values.map((ms) => ms.toFixed(0)).join(', ');
    console.log(
      `runs: aegis ${list(aegisMs)} ms; baseline ${list(baselineMs)} ms`,
    );
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
