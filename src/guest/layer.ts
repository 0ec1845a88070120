import { execFile } from 'node:child_process';
import { rename, rm, truncate, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AegisError, describeError } from '../errors.ts';

const run = promisify(execFile);

/**
 * Creates an instance's writable layer: an empty, sparse ext4 disk. The
 * guest agent mounts it as the upper layer of the overlay over the image's
 * read-only disk, so the image itself is never copied. Unused space costs
 * the host nothing.
 */
export async function createLayerDisk(
  path: string,
  sizeMib: number,
): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, '');
    await truncate(partial, sizeMib * 1024 * 1024);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'aegis-layer', partial]);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw new AegisError(
      'HOST_UNSUPPORTED',
      `cannot create the layer disk ${path}: ${describeError(error)}; ` +
        'check that e2fsprogs is installed and the disk has room',
    );
  }
}
