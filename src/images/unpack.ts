import { constants } from 'node:fs';
import { chmod, link, mkdir, open, symlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { AegisError } from '../errors.ts';
import {
  baseOf,
  cleanEntryPath,
  joinRel,
  parentOf,
  unsafeEntry,
} from './layer-path.ts';
import { SafeTree } from './safe-tree.ts';

/** Bounds that stop a decompression bomb; users may raise them. */
export interface UnpackLimits {
  readonly maxUnpackedBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = {
  maxUnpackedBytes: 16 * 1024 ** 3,
  maxEntries: 1_000_000,
};

export type DeviceKind = 'c' | 'b' | 'p';

/**
 * What the disk must record for a path but the host tree does not:
 * owner, the full permission bits (setuid included), xattrs, and device
 * nodes, which exist in the tree only as empty placeholder files.
 */
export interface EntryMeta {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly xattrs: Readonly<Record<string, string>>;
  readonly device?: { kind: DeviceKind; major: number; minor: number };
}

type Header = tar.Header;
type EntryBody = AsyncIterable<Buffer> & { resume(): unknown };

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const IMPLICIT_DIR: EntryMeta = { uid: 0, gid: 0, mode: 0o755, xattrs: {} };
/** Linux caps names at 255 bytes; a namespace, a dot, printable ASCII. */
const XATTR_NAME = /^[a-z]+\.[\x21-\x7e]{1,240}$/;
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/**
 * Applies layers, bottom first, to a tree on the host. Only regular
 * files, directories, symlinks and hard links are made on the host, with
 * owner-accessible modes and no setuid bits; everything else about an
 * entry goes into `meta` for the disk builder.
 */
export class TreeUnpacker {
  readonly tree: SafeTree;
  readonly meta = new Map<string, EntryMeta>();
  readonly #limits: UnpackLimits;
  #layer = '';
  #layerPaths = new Set<string>();
  #entries = 0;
  #bytes = 0;

  constructor(root: string, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS) {
    this.tree = new SafeTree(root);
    this.#limits = limits;
  }

  async applyLayer(tarStream: Readable, layer: string): Promise<void> {
    this.#layer = layer;
    this.#layerPaths = new Set();
    const extract = tar.extract();
    const feeding = pipeline(tarStream, extract);
    try {
      for await (const entry of extract) {
        await this.#applyEntry(entry.header, entry as unknown as EntryBody);
      }
      await feeding;
    } catch (error) {
      tarStream.destroy();
      extract.destroy();
      await feeding.catch(() => {});
      throw error;
    }
  }

  async #applyEntry(header: Header, body: EntryBody): Promise<void> {
    this.#countEntry(header.name);
    // Whatever the type: a link or device entry may carry a body too,
    // which is read and dropped, and must not be a free decompression.
    this.#countBytes(header.size ?? 0, header.name);
    const relPath = cleanEntryPath(header.name, this.#layer);
    const name = baseOf(relPath);

    if (name.startsWith(WHITEOUT)) {
      await this.#applyWhiteout(relPath, header.name);
    } else if (relPath === '') {
      this.#applyRoot(header);
    } else {
      await this.#ensureParent(relPath, header.name);
      await this.#replace(relPath, header.type === 'directory');
      await this.#create(relPath, header, body);
      this.#layerPaths.add(relPath);
    }
    body.resume();
  }

  #countEntry(rawName: string): void {
    this.#entries += 1;
    if (this.#entries <= this.#limits.maxEntries) return;
    throw tooLarge(
      `has more than maxEntries=${this.#limits.maxEntries} entries ` +
        `(at ${JSON.stringify(rawName)} in layer ${this.#layer})`,
    );
  }

  #countBytes(sizeBytes: number, rawName: string): void {
    this.#bytes += sizeBytes;
    if (this.#bytes <= this.#limits.maxUnpackedBytes) return;
    throw tooLarge(
      `unpacks to more than maxUnpackedBytes=` +
        `${this.#limits.maxUnpackedBytes} (at ${JSON.stringify(rawName)} ` +
        `in layer ${this.#layer})`,
    );
  }

  #applyRoot(header: Header): void {
    if (header.type !== 'directory') {
      throw unsafeEntry(this.#layer, header.name, 'replaces the root');
    }
    this.meta.set('', metaOf(header, this.#layer));
  }

  async #ensureParent(relPath: string, rawName: string): Promise<void> {
    await this.tree.ensureDir(
      parentOf(relPath),
      this.#layer,
      rawName,
      (created) => {
        // Made for this layer: an opaque marker in it keeps it.
        this.meta.set(created, IMPLICIT_DIR);
        this.#layerPaths.add(created);
      },
    );
  }

  // A new entry replaces whatever a lower layer had there, except that a
  // directory over a directory merges.
  async #replace(relPath: string, isDirectory: boolean): Promise<void> {
    const existing = await this.tree.lstat(relPath);
    if (existing === undefined) return;
    if (isDirectory && existing.isDirectory()) return;
    await this.tree.remove(relPath);
  }

  async #create(relPath: string, header: Header, body: EntryBody) {
    const absPath = this.tree.abs(relPath);
    const meta = metaOf(header, this.#layer);
    switch (header.type) {
      case 'directory':
        await mkdir(absPath, { mode: hostDirMode(meta.mode) }).catch(
          (error) => {
            if (error.code !== 'EEXIST') throw error;
          },
        );
        await chmod(absPath, hostDirMode(meta.mode));
        this.tree.markDir(relPath);
        break;
      case 'file':
      case 'contiguous-file':
        await writeFile(absPath, hostFileMode(meta.mode), body);
        break;
      case 'symlink':
        await symlink(header.linkname ?? '', absPath);
        break;
      case 'link':
        this.meta.set(relPath, await this.#hardLink(relPath, header));
        return;
      case 'character-device':
      case 'block-device':
      case 'fifo':
        await writeFile(absPath, 0o600);
        this.meta.set(relPath, { ...meta, device: deviceOf(header) });
        return;
      default:
        throw unsafeEntry(this.#layer, header.name, `has type ${header.type}`);
    }
    this.meta.set(relPath, meta);
  }

  // Tar names a hard link's target from the tree root. The target must
  // already be in the tree, reached without symlinks, and not a directory.
  async #hardLink(relPath: string, header: Header): Promise<EntryMeta> {
    const rawTarget = header.linkname ?? '';
    const target = cleanEntryPath(rawTarget, this.#layer);
    const fail = (why: string): never => {
      throw unsafeEntry(
        this.#layer,
        header.name,
        `links to ${rawTarget}: ${why}`,
      );
    };
    const reachable = await this.tree.isRealDir(
      parentOf(target),
      this.#layer,
      header.name,
    );
    const found = reachable ? await this.tree.lstat(target) : undefined;
    if (target === '' || found === undefined) fail('no such entry in the tree');
    if (found?.isDirectory()) fail('a directory cannot be hard linked');

    await link(this.tree.abs(target), this.tree.abs(relPath));
    return this.meta.get(target) ?? metaOf(header, this.#layer);
  }

  async #applyWhiteout(relPath: string, rawName: string): Promise<void> {
    const parent = parentOf(relPath);
    const name = baseOf(relPath);
    if (!(await this.tree.isRealDir(parent, this.#layer, rawName))) return;
    if (name === OPAQUE) {
      await this.#clearLower(parent);
      return;
    }
    if (name.startsWith(`${WHITEOUT}${WHITEOUT}`)) return;
    const hidden = name.slice(WHITEOUT.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw unsafeEntry(this.#layer, rawName, 'whites out no valid name');
    }
    // A whiteout hides what lower layers have; what its own layer wrote
    // stays (OCI image spec, "Whiteouts").
    const target = joinRel(parent, hidden);
    if (this.#layerPaths.has(target)) return;
    await this.tree.remove(target);
  }

  // An opaque directory hides everything lower layers put in it; what
  // this layer already wrote there stays.
  async #clearLower(dirPath: string): Promise<void> {
    for (const name of await this.tree.readdir(dirPath)) {
      const child = joinRel(dirPath, name);
      if (!this.#layerPaths.has(child)) {
        await this.tree.remove(child);
      } else if ((await this.tree.lstat(child))?.isDirectory()) {
        await this.#clearLower(child);
      }
    }
  }
}

function metaOf(header: Header, layer: string): EntryMeta {
  const pax = (header.pax ?? {}) as Record<string, string>;
  const xattrs: Record<string, string> = {};
  for (const [key, value] of Object.entries(pax)) {
    if (!key.startsWith('SCHILY.xattr.')) continue;
    const name = key.slice('SCHILY.xattr.'.length);
    // Names end up in a debugfs script, one command a line: a newline or
    // another control character could smuggle in a command of its own.
    if (!XATTR_NAME.test(name)) {
      throw unsafeEntry(
        layer,
        header.name,
        `has an invalid extended attribute name ${JSON.stringify(name)}`,
      );
    }
    xattrs[name] = value;
  }
  return {
    uid: paxNumber(pax.uid) ?? header.uid ?? 0,
    gid: paxNumber(pax.gid) ?? header.gid ?? 0,
    mode: (header.mode ?? 0o644) & 0o7777,
    xattrs,
  };
}

function paxNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function deviceOf(header: Header): EntryMeta['device'] {
  const kinds = { 'character-device': 'c', 'block-device': 'b', fifo: 'p' };
  return {
    kind: kinds[header.type as keyof typeof kinds] as DeviceKind,
    major: header.devmajor ?? 0,
    minor: header.devminor ?? 0,
  };
}

// The host copy must stay readable and writable by the unpacking user and
// never setuid; the disk builder restores the real bits.
function hostFileMode(mode: number): number {
  return (mode & 0o777) | 0o600;
}

function hostDirMode(mode: number): number {
  return (mode & 0o777) | 0o700;
}

async function writeFile(
  absPath: string,
  mode: number,
  body?: EntryBody,
): Promise<void> {
  const file = await open(absPath, CREATE_FLAGS, mode);
  try {
    for await (const chunk of body ?? []) await file.write(chunk);
  } finally {
    await file.close();
  }
}

function tooLarge(why: string): AegisError {
  return new AegisError(
    'LAYER_TOO_LARGE',
    `the image ${why}; raise the limit if you trust the image`,
  );
}
