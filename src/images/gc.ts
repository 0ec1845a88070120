import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive } from '../host/process.ts';
import type { Logger } from '../log.ts';
import { listImageRecords, listRefs, removeRef, shortId } from './records.ts';
import type { StoreLayout } from './store-layout.ts';

export interface PruneResult {
  readonly removedImages: readonly string[];
  readonly removedBlobs: number;
  readonly freedBytes: number;
}

/**
 * Mark and sweep: an image is live when an instance uses it (or, unless
 * `all`, when a reference names it); a blob is live when a live image
 * was made from it. Runs under the store's exclusive lock, so every temp
 * entry it finds belongs to an interrupted run or a dead process.
 */
export async function collectGarbage(
  layout: StoreLayout,
  inUse: ReadonlySet<string>,
  all: boolean,
  log: Logger,
): Promise<PruneResult> {
  const refs = await listRefs(layout);
  const records = await listImageRecords(layout);
  const named = new Set(refs.map((ref) => ref.imageId));
  const isLive = (id: string) => inUse.has(id) || (!all && named.has(id));

  let freedBytes = 0;
  const removedImages: string[] = [];
  for (const record of records.filter((entry) => !isLive(entry.id))) {
    freedBytes += await removeTree(layout.imageDir(record.id));
    removedImages.push(record.id);
  }
  for (const ref of refs.filter((entry) => !isLive(entry.imageId))) {
    await removeRef(layout, ref.ref);
  }

  const liveBlobs = new Set(
    records.filter((entry) => isLive(entry.id)).flatMap((entry) => entry.blobs),
  );
  let removedBlobs = 0;
  for (const hex of await readdir(layout.blobsDir).catch(() => [])) {
    if (liveBlobs.has(`sha256:${hex}`)) continue;
    freedBytes += await removeTree(join(layout.blobsDir, hex));
    removedBlobs += 1;
  }
  freedBytes += await removeStaleTemp(layout);

  log.info(
    { images: removedImages.map(shortId), blobs: removedBlobs, freedBytes },
    'pruned image store',
  );
  return { removedImages, removedBlobs, freedBytes };
}

// Temp entries are named <pid>-…; a live other process may still be
// writing its own, so only entries of this process or dead ones go.
async function removeStaleTemp(layout: StoreLayout): Promise<number> {
  let freedBytes = 0;
  for (const name of await readdir(layout.tmpDir).catch(() => [])) {
    const pid = Number(name.split('-')[0]);
    if (pid !== process.pid && isProcessAlive(pid)) continue;
    freedBytes += await removeTree(join(layout.tmpDir, name));
  }
  return freedBytes;
}

async function removeTree(path: string): Promise<number> {
  const bytes = await sizeOf(path);
  await rm(path, { recursive: true, force: true });
  return bytes;
}

async function sizeOf(path: string): Promise<number> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.blocks * 512;
  const names = await readdir(path);
  const sizes = await Promise.all(
    names.map((name) => sizeOf(join(path, name))),
  );
  return sizes.reduce((sum, size) => sum + size, stat.blocks * 512);
}
