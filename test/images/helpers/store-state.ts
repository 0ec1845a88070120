import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The names under each store directory, to show what a failure kept. */
export async function storeEntries(
  root: string,
): Promise<Record<string, string[]>> {
  const list = (dir: string) =>
    readdir(join(root, dir)).catch(() => [] as string[]);
  return {
    blobs: await list('blobs/sha256'),
    images: await list('images'),
    refs: await list('refs'),
    tmp: await list('tmp'),
  };
}

/** Fails unless every blob hashes to its own name. */
export async function assertBlobsVerified(root: string): Promise<number> {
  const dir = join(root, 'blobs', 'sha256');
  const names = await readdir(dir);
  for (const name of names) {
    const hex = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
    if (hex !== name)
      throw new Error(`blob ${name} is corrupt (hashes to ${hex})`);
  }
  return names.length;
}
