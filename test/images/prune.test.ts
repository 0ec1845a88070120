import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import { ImageStore, type ResolvedImage } from '../../src/images/index.ts';
import { tarDirectory, tempDir } from './helpers/images.ts';
import {
  type BuiltImage,
  type LayerSpec,
  writeImageLayout,
} from './helpers/oci-builder.ts';
import { storeEntries } from './helpers/store-state.ts';
import { requireTools } from './helpers/tools.ts';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const hexes = (digests: string[]) => digests.map((digest) => digest.slice(7));

describe('pruning the store', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let store: ImageStore;
  let root: string;
  const built: Record<string, BuiltImage> = {};
  const loaded: Record<string, ResolvedImage> = {};

  before(async () => {
    requireTools('tar', 'mkfs.ext4', 'debugfs');
    work = await tempDir('prune');
    root = join(work.path, 'store');
    store = new ImageStore({ root });
    const base: LayerSpec = {
      entries: [{ name: 'base', content: 'shared base\n' }],
    };
    for (const name of ['kept', 'dropped']) {
      const layout = join(work.path, name);
      built[name] = await writeImageLayout(layout, 'v1', {
        layers: [base, { entries: [{ name: 'own', content: `${name}\n` }] }],
      });
      tarDirectory(layout, `${layout}.tar`);
      [loaded[name]] = (await store.load(createReadStream(`${layout}.tar`), {
        tag: `example.test/${name}:v1`,
      })) as [ResolvedImage];
    }
  });

  after(() => work.cleanup());

  test('keeps named images', async () => {
    const result = await store.prune(new Set());
    assert.deepEqual(result.removedImages, []);
    assert.equal((await store.list()).length, 2);
  });

  test('removes unused images and blobs and keeps what instances use', async () => {
    assert.deepEqual(await store.remove('example.test/kept:v1'), [
      'example.test/kept:v1',
    ]);
    assert.deepEqual(await store.remove(loaded.dropped!.digest), [
      'example.test/dropped:v1',
    ]);
    await mkdir(join(root, 'tmp', '999999999-dead-blob'), { recursive: true });
    await writeFile(
      join(root, 'tmp', '999999999-dead-blob', 'partial'),
      'partial',
    );

    const result = await store.prune(new Set([loaded.kept!.digest]));

    assert.deepEqual(result.removedImages, [loaded.dropped!.digest]);
    assert.ok(result.freedBytes > 0);
    assert.ok(await exists(loaded.kept!.diskPath), 'the in-use disk is kept');
    assert.ok(
      !(await exists(loaded.dropped!.diskPath)),
      'the unused disk is removed',
    );
    const entries = await storeEntries(root);
    const kept = built.kept!;
    const dropped = built.dropped!;
    const keptBlobs = hexes([
      kept.manifestDigest,
      kept.configDigest,
      ...kept.layerDigests,
    ]);
    assert.deepEqual(
      entries.blobs?.sort(),
      keptBlobs.sort(),
      'the shared base layer stays',
    );
    assert.ok(!entries.blobs?.includes(dropped.layerDigests[1]!.slice(7)));
    assert.deepEqual(entries.tmp, []);
    assert.equal(
      (await store.resolve(loaded.kept!.digest)).diskPath,
      loaded.kept!.diskPath,
    );
  });

  test('removes the rest once nothing uses it', async () => {
    await store.prune(new Set());
    assert.deepEqual(await storeEntries(root), {
      blobs: [],
      images: [],
      refs: [],
      tmp: [],
    });
    await assert.rejects(store.resolve(loaded.kept!.digest), (error) =>
      isAegisError(error, 'NOT_FOUND'),
    );
  });
});
