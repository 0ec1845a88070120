import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AegisError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { BlobStore } from './blob-store.ts';
import { DigestingStream, digestMismatch } from './digest.ts';
import { buildRootDisk } from './disk-builder.ts';
import { parseImageConfig } from './image-config.ts';
import { openLayerTar } from './layer-stream.ts';
import { type ImageRecord, readImageRecord, shortId } from './records.ts';
import type { StoreLayout } from './store-layout.ts';
import { TreeUnpacker, type UnpackLimits } from './unpack.ts';

export interface PrepareInput {
  readonly configDigest: string;
  /** Layer blob digests, bottom first, all already in the blob store. */
  readonly layerDigests: readonly string[];
  /** Manifests and indexes that led here, kept while the image is. */
  readonly otherBlobs: readonly string[];
}

export interface PrepareContext {
  readonly layout: StoreLayout;
  readonly blobs: BlobStore;
  readonly limits: UnpackLimits;
  readonly log: Logger;
}

/**
 * Makes sure the image's root disk exists: reuses it when another pull or
 * load built it, otherwise unpacks the layers, builds the disk and moves
 * the finished image directory into place in one rename.
 */
export async function prepareImage(
  ctx: PrepareContext,
  input: PrepareInput,
): Promise<ImageRecord> {
  const existing = await readImageRecord(ctx.layout, input.configDigest);
  if (existing !== undefined) return existing;

  const configBytes = await readFile(ctx.blobs.path(input.configDigest));
  const where = `image config ${input.configDigest}`;
  const { config, diffIds } = parseImageConfig(configBytes, where);
  if (diffIds.length !== input.layerDigests.length) {
    throw new AegisError(
      'IMAGE_UNSUPPORTED',
      `${where} lists ${diffIds.length} layers but the manifest has ` +
        `${input.layerDigests.length}; the image is malformed`,
    );
  }

  const workDir = ctx.layout.tmp('image');
  const outDir = join(workDir, 'out');
  try {
    await mkdir(join(workDir, 'tree'), { recursive: true, mode: 0o700 });
    await mkdir(outDir);
    const unpacker = new TreeUnpacker(join(workDir, 'tree'), ctx.limits);
    const unpackStartMs = Date.now();
    await unpackLayers(ctx, unpacker, input.layerDigests, diffIds);
    const unpackMs = Date.now() - unpackStartMs;

    const diskPath = join(outDir, 'disk.ext4');
    const startedMs = Date.now();
    await buildRootDisk({
      treeRoot: unpacker.tree.root,
      meta: unpacker.meta,
      imageId: input.configDigest,
      diskPath,
      workDir,
    });
    const record: ImageRecord = {
      id: input.configDigest,
      layers: input.layerDigests.map((digest, i) => ({
        digest,
        diffId: diffIds[i]!,
      })),
      blobs: [...input.otherBlobs, input.configDigest, ...input.layerDigests],
      config,
      diskBytes: (await stat(diskPath)).size,
      createdAt: new Date().toISOString(),
    };
    await writeFile(
      join(outDir, 'config.json'),
      `${JSON.stringify(config, null, 2)}\n`,
    );
    await writeFile(
      join(outDir, 'image.json'),
      `${JSON.stringify(record, null, 2)}\n`,
    );
    await moveIntoPlace(ctx.layout, outDir, input.configDigest);
    ctx.log.info(
      { image: shortId(record.id), unpackMs, diskMs: Date.now() - startedMs },
      'built image root disk',
    );
    return (await readImageRecord(ctx.layout, input.configDigest)) ?? record;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function unpackLayers(
  ctx: PrepareContext,
  unpacker: TreeUnpacker,
  layerDigests: readonly string[],
  diffIds: readonly string[],
): Promise<void> {
  for (const [i, digest] of layerDigests.entries()) {
    const what = `layer ${digest}`;
    const hasher = new DigestingStream(what);
    const tarStream = await openLayerTar(ctx.blobs.path(digest));
    const hashing = pipeline(tarStream, hasher);
    const unpacking = unpacker.applyLayer(hasher, digest);
    // Report the unpacker's error over the premature close it causes.
    const [hashed, unpacked] = await Promise.allSettled([hashing, unpacking]);
    if (unpacked.status === 'rejected') throw unpacked.reason;
    if (hashed.status === 'rejected') throw hashed.reason;
    const diffId = hasher.digest();
    if (diffId !== diffIds[i]) {
      throw digestMismatch(`uncompressed ${what}`, diffIds[i]!, diffId);
    }
  }
}

// Two builds of one image may race; the first rename wins and the other
// build is dropped, as the two are the same.
async function moveIntoPlace(
  layout: StoreLayout,
  outDir: string,
  imageId: string,
): Promise<void> {
  await mkdir(layout.imagesDir, { recursive: true });
  await rename(outDir, layout.imageDir(imageId)).catch((error) => {
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
  });
}
