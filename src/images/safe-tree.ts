import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { unsafeEntry } from './layer-path.ts';

/**
 * A directory tree that layers are unpacked into, reached only through
 * relative paths whose every component is checked with lstat: a symlink
 * is never followed on the way to a write. The tree lives in a private
 * temp directory that only this process writes, so a component checked
 * stays what it was until the write that follows.
 */
export class SafeTree {
  readonly root: string;
  // Directories already checked to be real; reset whenever anything is
  // removed, since a removal can replace a directory with a symlink.
  #checkedDirs = new Set<string>(['']);

  constructor(root: string) {
    this.root = root;
  }

  abs(relPath: string): string {
    return relPath === '' ? this.root : join(this.root, relPath);
  }

  async lstat(relPath: string): Promise<Stats | undefined> {
    return lstat(this.abs(relPath)).catch((error) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
  }

  /**
   * Makes `dirPath` and its ancestors real directories, creating missing
   * ones (reported through `onCreate`) and refusing symlinks and files.
   */
  async ensureDir(
    dirPath: string,
    layer: string,
    rawName: string,
    onCreate: (relPath: string) => void,
  ): Promise<void> {
    let current = '';
    for (const part of dirPath === '' ? [] : dirPath.split('/')) {
      current = current === '' ? part : `${current}/${part}`;
      if (this.#checkedDirs.has(current)) continue;
      const found = await this.lstat(current);
      if (found === undefined) {
        await mkdir(this.abs(current), { mode: 0o755 });
        onCreate(current);
      } else if (!found.isDirectory()) {
        const what = found.isSymbolicLink() ? 'symlink' : 'non-directory';
        throw unsafeEntry(
          layer,
          rawName,
          `writes through the ${what} ${current}`,
        );
      }
      this.#checkedDirs.add(current);
    }
  }

  /** Whether `dirPath` exists as a real directory all the way down. */
  async isRealDir(
    dirPath: string,
    layer: string,
    rawName: string,
  ): Promise<boolean> {
    let current = '';
    for (const part of dirPath === '' ? [] : dirPath.split('/')) {
      current = current === '' ? part : `${current}/${part}`;
      if (this.#checkedDirs.has(current)) continue;
      const found = await this.lstat(current);
      if (found === undefined) return false;
      if (found.isSymbolicLink()) {
        throw unsafeEntry(
          layer,
          rawName,
          `reaches through the symlink ${current}`,
        );
      }
      if (!found.isDirectory()) return false;
      this.#checkedDirs.add(current);
    }
    return true;
  }

  markDir(relPath: string): void {
    this.#checkedDirs.add(relPath);
  }

  /** Removes a path and all below it; rm never follows symlinks. */
  async remove(relPath: string): Promise<void> {
    this.#checkedDirs = new Set(['']);
    await rm(this.abs(relPath), { recursive: true, force: true });
  }

  readdir(relPath: string): Promise<string[]> {
    return readdir(this.abs(relPath));
  }
}
