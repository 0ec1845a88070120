import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ErrorCode, isAegisError } from '../../src/errors.ts';
import { ImageStore, type UnpackLimits } from '../../src/images/index.ts';
import { catInDisk, statInDisk } from './helpers/disk.ts';
import { tarDirectory, tempDir } from './helpers/images.ts';
import { type LayerSpec, writeImageLayout } from './helpers/oci-builder.ts';
import { storeEntries } from './helpers/store-state.ts';
import { requireTools } from './helpers/tools.ts';

const MIB = 1024 * 1024;

/** Every path under a directory with its type, mode and content hash. */
async function snapshot(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string) => {
    const stat = await lstat(path);
    let detail = `${stat.mode.toString(8)} ${stat.mtimeMs}`;
    if (stat.isFile()) {
      detail += ` ${createHash('sha256')
        .update(await readFile(path))
        .digest('hex')}`;
    }
    lines.push(`${path} ${detail}`);
    if (stat.isDirectory()) {
      for (const name of await readdir(path)) await walk(join(path, name));
    }
  };
  await walk(dir);
  return lines.sort();
}

/** Fails if the tree holds anything but files, dirs and symlinks. */
async function assertNoSpecialFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir, { recursive: true })) {
    const stat = await lstat(join(dir, name));
    const ordinary =
      stat.isFile() || stat.isDirectory() || stat.isSymbolicLink();
    assert.ok(ordinary, `${name} in the store is a device node or fifo`);
  }
}

describe('hostile layers', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let hostDir: string;
  let hostBefore: string[];
  let caseNumber = 0;

  before(async () => {
    requireTools('tar', 'mkfs.ext4', 'debugfs');
    work = await tempDir('hostile');
    hostDir = join(work.path, 'host');
    await mkdir(join(hostDir, 'victim'), { recursive: true });
    await writeFile(join(hostDir, 'secret'), 'host secret\n');
    hostBefore = await snapshot(hostDir);
  });

  after(() => work.cleanup());

  async function loadLayers(
    layers: LayerSpec[],
    limits?: Partial<UnpackLimits>,
  ) {
    const name = `case-${++caseNumber}`;
    const layout = join(work.path, name);
    await writeImageLayout(layout, 'v1', { layers });
    tarDirectory(layout, `${layout}.tar`);
    const root = join(work.path, `${name}-store`);
    const store = new ImageStore({
      root,
      ...(limits !== undefined && { limits }),
    });
    const load = store.load(createReadStream(`${layout}.tar`));
    return { root, load };
  }

  async function assertRefused(
    layers: LayerSpec[],
    code: ErrorCode,
    limits?: Partial<UnpackLimits>,
  ) {
    const { root, load } = await loadLayers(layers, limits);
    await assert.rejects(load, (error) => isAegisError(error, code));
    const entries = await storeEntries(root);
    assert.deepEqual([entries.images, entries.refs, entries.tmp], [[], [], []]);
    assert.deepEqual(
      await snapshot(hostDir),
      hostBefore,
      'the host directory changed',
    );
    const outside = (await readdir(work.path)).filter((entry) =>
      entry.includes('pwned'),
    );
    assert.deepEqual(outside, []);
  }

  const one = (...entries: LayerSpec['entries']): LayerSpec => ({ entries });

  test('an absolute path is refused', async () => {
    await assertRefused(
      [one({ name: `${hostDir}/pwned`, content: 'x' })],
      'LAYER_UNSAFE',
    );
  });

  test('a path climbing out with .. is refused', async () => {
    await assertRefused(
      [one({ name: `../../../../../..${hostDir}/pwned`, content: 'x' })],
      'LAYER_UNSAFE',
    );
    await assertRefused(
      [one({ name: 'a/../../pwned', content: 'x' })],
      'LAYER_UNSAFE',
    );
  });

  test('a write through a symlink of the same layer is refused', async () => {
    await assertRefused(
      [
        one(
          { name: 'escape', type: 'symlink', linkname: hostDir },
          { name: 'escape/pwned', content: 'x' },
        ),
      ],
      'LAYER_UNSAFE',
    );
  });

  test('a write through a symlink of an earlier layer is refused', async () => {
    await assertRefused(
      [
        one({
          name: 'escape',
          type: 'symlink',
          linkname: `../../../../..${hostDir}`,
        }),
        one({ name: 'escape/victim/pwned', content: 'x' }),
      ],
      'LAYER_UNSAFE',
    );
  });

  test('a whiteout through a symlink is refused', async () => {
    await assertRefused(
      [
        one({ name: 'escape', type: 'symlink', linkname: hostDir }),
        one({ name: 'escape/.wh.secret' }),
      ],
      'LAYER_UNSAFE',
    );
  });

  test('hard links to host paths are refused', async () => {
    const link = (linkname: string) =>
      one({ name: 'stolen', type: 'link', linkname });
    await assertRefused([link(`${hostDir}/secret`)], 'LAYER_UNSAFE');
    await assertRefused(
      [link(`../../../../../..${hostDir}/secret`)],
      'LAYER_UNSAFE',
    );
    await assertRefused(
      [
        one({ name: 'escape', type: 'symlink', linkname: hostDir }),
        link('escape/secret'),
      ],
      'LAYER_UNSAFE',
    );
  });

  test('a file over a symlink replaces the symlink, not its target', async () => {
    const { root, load } = await loadLayers([
      one(
        { name: 'etc/', type: 'directory' },
        { name: 'etc/passwd', type: 'symlink', linkname: `${hostDir}/secret` },
      ),
      one({ name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' }),
    ]);
    const [image] = await load;
    assert.equal(
      catInDisk(image!.diskPath, '/etc/passwd'),
      'root:x:0:0::/root:/bin/sh\n',
    );
    assert.equal(statInDisk(image!.diskPath, '/etc/passwd')?.type, 'regular');
    assert.deepEqual(await snapshot(hostDir), hostBefore);
    await assertNoSpecialFiles(root);
  });

  test('device nodes and fifos exist only inside the disk', async () => {
    const { root, load } = await loadLayers([
      one(
        { name: 'dev/', type: 'directory' },
        {
          name: 'dev/sda',
          type: 'block-device',
          devmajor: 8,
          devminor: 0,
          mode: 0o660,
        },
        {
          name: 'dev/mem',
          type: 'character-device',
          devmajor: 1,
          devminor: 1,
          mode: 0o640,
        },
        { name: 'run/pipe', type: 'fifo', mode: 0o600 },
      ),
    ]);
    const [image] = await load;
    assert.equal(
      statInDisk(image!.diskPath, '/dev/sda')?.type,
      'block special',
    );
    assert.equal(
      statInDisk(image!.diskPath, '/dev/mem')?.type,
      'character special',
    );
    assert.equal(statInDisk(image!.diskPath, '/run/pipe')?.type, 'FIFO');
    await assertNoSpecialFiles(root);
    assert.deepEqual(await snapshot(hostDir), hostBefore);
  });

  test('an extended attribute name cannot smuggle in a command', async () => {
    // The disk builder feeds names to debugfs, which runs `!…` lines.
    const name = `user.a\n!touch ${work.path}/pwned-by-xattr\nx`;
    await assertRefused(
      [
        one({
          name: 'file',
          content: 'x',
          pax: { [`SCHILY.xattr.${name}`]: 'v' },
        }),
      ],
      'LAYER_UNSAFE',
    );
  });

  test('a decompression bomb is stopped at the byte limit, which can be raised', async () => {
    const bomb = [one({ name: 'zeros', content: Buffer.alloc(24 * MIB) })];
    await assertRefused(bomb, 'LAYER_TOO_LARGE', {
      maxUnpackedBytes: 16 * MIB,
    });
    const { load } = await loadLayers(bomb, { maxUnpackedBytes: 32 * MIB });
    const [image] = await load;
    assert.equal(statInDisk(image!.diskPath, '/zeros')?.size, 24 * MIB);
  });

  test('a flood of entries is stopped at the entry limit', async () => {
    const entries = Array.from({ length: 1500 }, (_, i) => ({
      name: `f${i}`,
      content: '',
    }));
    await assertRefused([{ entries }], 'LAYER_TOO_LARGE', { maxEntries: 1000 });
  });
});
