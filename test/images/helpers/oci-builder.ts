import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import tar from 'tar-stream';

/** One tar entry of a test layer. */
export interface EntrySpec {
  name: string;
  type?: tar.Header['type'];
  mode?: number;
  uid?: number;
  gid?: number;
  content?: string | Buffer;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerSpec {
  entries: EntrySpec[];
  compression?: Compression;
}

export interface ImageSpec {
  layers: LayerSpec[];
  architecture?: string;
  config?: Record<string, unknown>;
}

export interface BuiltImage {
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layerDigests: string[];
}

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
};
const LAYER_MEDIA: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Packs entries into a tar with tar-stream, as a layer is. */
export async function tarOf(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack as unknown as AsyncIterable<Buffer>)
      chunks.push(chunk);
  })();
  for (const entry of entries) {
    const { content, ...header } = entry;
    const body = content === undefined ? undefined : Buffer.from(content);
    const fullHeader = {
      mtime: new Date(1_700_000_000_000),
      mode: header.type === 'directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      ...header,
      ...(body !== undefined && { size: body.length }),
    };
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) =>
        error ? reject(error) : resolve();
      pack.entry(fullHeader, body ?? Buffer.alloc(0), callback);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function compress(bytes: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(bytes, { level: 1 });
  if (compression === 'zstd') return zstdCompressSync(bytes);
  return bytes;
}

async function putBlob(layoutDir: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const dir = join(layoutDir, 'blobs', 'sha256');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, digest.slice(7)), bytes);
  return digest;
}

/** Writes an image's blobs into an OCI layout, without tagging it. */
export async function addImage(
  layoutDir: string,
  spec: ImageSpec,
): Promise<BuiltImage> {
  const layers = [];
  const diffIds = [];
  for (const layer of spec.layers) {
    const tarBytes = await tarOf(layer.entries);
    const compression = layer.compression ?? 'gzip';
    const blob = compress(tarBytes, compression);
    diffIds.push(sha256(tarBytes));
    layers.push({
      mediaType: LAYER_MEDIA[compression],
      digest: await putBlob(layoutDir, blob),
      size: blob.length,
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      os: 'linux',
      config: spec.config ?? {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configDigest = await putBlob(layoutDir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: {
        mediaType: MEDIA.config,
        digest: configDigest,
        size: config.length,
      },
      layers,
    }),
  );
  return {
    manifestDigest: await putBlob(layoutDir, manifest),
    manifestSize: manifest.length,
    configDigest,
    layerDigests: layers.map((layer) => layer.digest),
  };
}

/** Writes an index of several platform images into the layout. */
export async function addIndex(
  layoutDir: string,
  images: { image: BuiltImage; architecture: string }[],
): Promise<{ digest: string; size: number }> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: images.map(({ image, architecture }) => ({
        mediaType: MEDIA.manifest,
        digest: image.manifestDigest,
        size: image.manifestSize,
        platform: { os: 'linux', architecture },
      })),
    }),
  );
  return { digest: await putBlob(layoutDir, index), size: index.length };
}

/** Names a manifest or index in the layout's index.json. */
export async function tagInLayout(
  layoutDir: string,
  tag: string,
  target: { digest: string; size: number; mediaType?: string },
): Promise<void> {
  const indexPath = join(layoutDir, 'index.json');
  const current = await readFile(indexPath, 'utf8')
    .then((text) => JSON.parse(text))
    .catch(() => ({ schemaVersion: 2, manifests: [] }));
  current.manifests.push({
    mediaType: target.mediaType ?? MEDIA.manifest,
    digest: target.digest,
    size: target.size,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  });
  await writeFile(indexPath, JSON.stringify(current));
  await writeFile(
    join(layoutDir, 'oci-layout'),
    '{"imageLayoutVersion":"1.0.0"}',
  );
}

/** Builds a one-image layout tagged `tag`. */
export async function writeImageLayout(
  layoutDir: string,
  tag: string,
  spec: ImageSpec,
): Promise<BuiltImage> {
  const image = await addImage(layoutDir, spec);
  await tagInLayout(layoutDir, tag, {
    digest: image.manifestDigest,
    size: image.manifestSize,
  });
  return image;
}

export const INDEX_MEDIA_TYPE = MEDIA.index;
