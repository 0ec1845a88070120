import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import {
  ImageStore,
  type ResolvedImage,
  silentProgress,
} from '../../src/images/index.ts';
import { listDisk } from './helpers/disk.ts';
import { richImage, tarDirectory, tempDir } from './helpers/images.ts';
import { type BuiltImage, writeImageLayout } from './helpers/oci-builder.ts';
import {
  skopeoPush,
  startRegistry,
  type TestRegistry,
} from './helpers/registry.ts';
import { requireTools } from './helpers/tools.ts';

describe('loading an archive', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let registry: TestRegistry;
  let built: BuiltImage;
  let pulled: ResolvedImage;
  let pulledListing: string[];
  let ref: string;

  before(async () => {
    requireTools('docker-registry', 'skopeo', 'tar', 'mkfs.ext4', 'debugfs');
    work = await tempDir('load');
    registry = await startRegistry();
    const layout = join(work.path, 'layout');
    built = await writeImageLayout(layout, 'v1', richImage());
    ref = `${registry.host}/app/rich:v1`;
    skopeoPush(layout, 'v1', ref);
    await writeImageLayout(layout, 'gzip', richImage('gzip'));
    const pullStore = new ImageStore({ root: join(work.path, 'pulled') });
    pulled = await pullStore.pull(ref, { progress: silentProgress });
    pulledListing = listDisk(pulled.diskPath);
  });

  after(async () => {
    await registry?.stop();
    await work?.cleanup();
  });

  // Docker archives hold no zstd: save the gzip build of the same layers,
  // which has the same config, hence the same image. skopeo writes it from
  // the layout, since through a registry its blob cache may swap in the
  // zstd layers it has seen for the same content.
  test('made by docker save gives the same image as a pull', async () => {
    const archive = join(work.path, 'saved.tar');
    const savedRef = 'example.test/saved:v1';
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      `oci:${join(work.path, 'layout')}:gzip`,
      `docker-archive:${archive}:${savedRef}`,
    ]);
    const store = new ImageStore({ root: join(work.path, 'from-docker') });
    const [loaded] = await store.load(createReadStream(archive));
    assert.equal(loaded?.digest, pulled.digest);
    assert.deepEqual(loaded?.config, pulled.config);
    assert.deepEqual(listDisk(loaded!.diskPath), pulledListing);
    assert.equal((await store.resolve(savedRef)).digest, pulled.digest);
  });

  test('of an OCI layout gives the same image as a pull', async () => {
    const archive = join(work.path, 'layout.tar');
    tarDirectory(join(work.path, 'layout'), archive);
    const store = new ImageStore({ root: join(work.path, 'from-oci') });
    const [loaded] = await store.load(createReadStream(archive), {
      tag: 'local/rich:v1',
    });
    assert.equal(loaded?.digest, built.configDigest);
    assert.equal(loaded?.digest, pulled.digest);
    assert.deepEqual(listDisk(loaded!.diskPath), pulledListing);
    assert.equal((await store.resolve('local/rich:v1')).digest, pulled.digest);
  });

  test('that is not an image archive is refused', async () => {
    const archive = join(work.path, 'junk.tar');
    execFileSync('tar', [
      '-C',
      join(work.path, 'layout', 'blobs'),
      '-cf',
      archive,
      '.',
    ]);
    const store = new ImageStore({ root: join(work.path, 'junk') });
    await assert.rejects(store.load(createReadStream(archive)), (error) =>
      isAegisError(error, 'IMAGE_UNSUPPORTED'),
    );
  });
});
