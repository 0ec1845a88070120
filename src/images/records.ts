import { readdir, rm } from 'node:fs/promises';
import { digestHex } from './digest.ts';
import type { ImageConfig } from './image-config.ts';
import { readJsonIfExists, writeJsonAtomic } from './json-file.ts';
import type { StoreLayout } from './store-layout.ts';

/** What the store knows of one image, named by its config digest. */
export interface ImageRecord {
  readonly id: string;
  readonly layers: readonly { digest: string; diffId: string }[];
  /** Every blob the image was made from: manifests, config, layers. */
  readonly blobs: readonly string[];
  readonly config: ImageConfig;
  readonly diskBytes: number;
  readonly createdAt: string;
}

/** A name that points at an image: `host/repo:tag` or `host/repo@digest`. */
export interface RefRecord {
  readonly ref: string;
  readonly imageId: string;
  readonly manifestDigest?: string;
}

export function readImageRecord(
  layout: StoreLayout,
  imageId: string,
): Promise<ImageRecord | undefined> {
  return readJsonIfExists<ImageRecord>(layout.imageRecord(imageId));
}

export async function listImageRecords(
  layout: StoreLayout,
): Promise<ImageRecord[]> {
  const names = await readdir(layout.imagesDir).catch(() => []);
  const records = await Promise.all(
    names.map((hex) => readImageRecord(layout, `sha256:${hex}`)),
  );
  return records.filter((record) => record !== undefined);
}

export function writeRef(
  layout: StoreLayout,
  record: RefRecord,
): Promise<void> {
  return writeJsonAtomic(layout.ref(record.ref), record);
}

export function readRef(
  layout: StoreLayout,
  ref: string,
): Promise<RefRecord | undefined> {
  return readJsonIfExists<RefRecord>(layout.ref(ref));
}

export async function listRefs(layout: StoreLayout): Promise<RefRecord[]> {
  const names = await readdir(layout.refsDir).catch(() => []);
  const refs = await Promise.all(
    names
      .filter((name) => name.endsWith('.json'))
      .map((name) => readJsonIfExists<RefRecord>(`${layout.refsDir}/${name}`)),
  );
  return refs.filter((ref) => ref !== undefined);
}

export function removeRef(layout: StoreLayout, ref: string): Promise<void> {
  return rm(layout.ref(ref), { force: true });
}

export function shortId(imageId: string): string {
  return digestHex(imageId).slice(0, 12);
}
