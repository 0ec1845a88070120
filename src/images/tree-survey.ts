import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeSurvey {
  /** Every path in the tree (the root is ''), with what lstat said. */
  readonly stats: ReadonlyMap<string, Stats>;
  readonly inodes: number;
  /** 4 KiB blocks the content needs, counting each inode once. */
  readonly dataBlocks: number;
}

const BLOCK_BYTES = 4096;
// An ext4 symlink target shorter than this lives inside the inode.
const FAST_SYMLINK_BYTES = 60;
// An ext4 directory entry: 8 bytes of header plus the name, 4-aligned.
const DIRENT_OVERHEAD_BYTES = 12;

/** Walks the unpacked tree once, for disk sizing and ownership fixups. */
export async function surveyTree(root: string): Promise<TreeSurvey> {
  const stats = new Map<string, Stats>();
  const seenInodes = new Set<number>();
  let dataBlocks = 0;

  const visit = async (relPath: string): Promise<void> => {
    const stat = await lstat(relPath === '' ? root : join(root, relPath));
    stats.set(relPath, stat);
    if (seenInodes.has(stat.ino)) return;
    seenInodes.add(stat.ino);
    if (stat.isFile()) dataBlocks += Math.ceil(stat.size / BLOCK_BYTES);
    if (stat.isSymbolicLink() && stat.size >= FAST_SYMLINK_BYTES)
      dataBlocks += 1;
    if (!stat.isDirectory()) return;

    const names = await readdir(relPath === '' ? root : join(root, relPath));
    const direntBytes = names.reduce(
      (sum, name) => sum + DIRENT_OVERHEAD_BYTES + Buffer.byteLength(name),
      2 * DIRENT_OVERHEAD_BYTES,
    );
    dataBlocks += Math.ceil(direntBytes / BLOCK_BYTES) + 1;
    await Promise.all(
      names.map((name) => visit(relPath === '' ? name : `${relPath}/${name}`)),
    );
  };

  await visit('');
  return { stats, inodes: seenInodes.size, dataBlocks };
}
