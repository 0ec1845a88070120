import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import { ImageStore, silentProgress } from '../../src/images/index.ts';
import { listDisk } from './helpers/disk.ts';
import { richImage, smallImage, tempDir } from './helpers/images.ts';
import {
  addImage,
  addIndex,
  type BuiltImage,
  INDEX_MEDIA_TYPE,
  tagInLayout,
  writeImageLayout,
} from './helpers/oci-builder.ts';
import { startProxy, type TestProxy } from './helpers/proxy.ts';
import {
  manifestDigest,
  skopeoPush,
  startRegistry,
  type TestRegistry,
} from './helpers/registry.ts';
import { assertBlobsVerified, storeEntries } from './helpers/store-state.ts';
import { requireTools } from './helpers/tools.ts';

const quiet = { progress: silentProgress };

describe('pulling from a registry', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let registry: TestRegistry;
  let rich: BuiltImage;
  let amd64: BuiltImage;
  let layout: string;
  const newStore = (name: string) =>
    new ImageStore({ root: join(work.path, name) });

  before(async () => {
    requireTools('docker-registry', 'skopeo', 'mkfs.ext4', 'debugfs');
    work = await tempDir('pull');
    registry = await startRegistry();
    layout = join(work.path, 'layout');
    rich = await writeImageLayout(layout, 'rich', richImage());
    skopeoPush(layout, 'rich', `${registry.host}/app/rich:v1`);

    amd64 = await addImage(layout, {
      ...smallImage('amd64'),
      architecture: 'amd64',
    });
    const arm64 = await addImage(layout, {
      ...smallImage('arm64'),
      architecture: 'arm64',
    });
    const index = await addIndex(layout, [
      { image: arm64, architecture: 'arm64' },
      { image: amd64, architecture: 'amd64' },
    ]);
    await tagInLayout(layout, 'multi', {
      ...index,
      mediaType: INDEX_MEDIA_TYPE,
    });
    skopeoPush(layout, 'multi', `${registry.host}/multi:v1`, { all: true });
  });

  after(async () => {
    await registry?.stop();
    await work?.cleanup();
  });

  test('by tag gives the image, its config and its disk', async () => {
    const store = newStore('by-tag');
    const image = await store.pull(`${registry.host}/app/rich:v1`, quiet);
    assert.equal(image.digest, rich.configDigest);
    assert.deepEqual(image.config.entrypoint, ['/bin/tool']);
    assert.ok(
      listDisk(image.diskPath).includes('/home/user/notes 100640 1000:1000 5'),
    );
    assert.equal(await assertBlobsVerified(join(work.path, 'by-tag')), 5);
    const [summary] = await store.list();
    assert.deepEqual(summary?.refs, [`${registry.host}/app/rich:v1`]);
  });

  test('by digest gives the same image', async () => {
    const store = newStore('by-digest');
    const digest = await manifestDigest(registry.host, 'app/rich:v1');
    const ref = `${registry.host}/app/rich@${digest}`;
    const image = await store.pull(ref, quiet);
    assert.equal(image.digest, rich.configDigest);
    assert.equal((await store.resolve(ref)).diskPath, image.diskPath);
    const tagged = await store.pull(
      `${registry.host}/app/rich:v1@${digest}`,
      quiet,
    );
    assert.equal(tagged.digest, rich.configDigest);
  });

  test('of a multi-platform index picks linux/amd64', async () => {
    const store = newStore('index');
    const image = await store.pull(`${registry.host}/multi:v1`, quiet);
    assert.equal(image.digest, amd64.configDigest);
    assert.deepEqual(listDisk(image.diskPath), ['/hello 100755 0:0 6']);
  });

  test('by a wrong digest is refused and leaves nothing in the store', async () => {
    const store = newStore('wrong-digest');
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(
      store.pull(`${registry.host}/app/rich@${wrong}`, quiet),
      (error) => isAegisError(error, 'NOT_FOUND'),
    );
    assert.deepEqual(await storeEntries(join(work.path, 'wrong-digest')), {
      blobs: [],
      images: [],
      refs: [],
      tmp: [],
    });
  });

  test('refuses a manifest that is not the one its digest names', async () => {
    const asked = await manifestDigest(registry.host, 'app/rich:v1');
    const other = await manifestDigest(registry.host, 'multi:v1');
    const proxy = await startProxy(registry.host, {
      rewrite: {
        from: `/v2/app/rich/manifests/${asked}`,
        to: `/v2/multi/manifests/${other}`,
      },
    });
    try {
      const store = newStore('swapped');
      await assert.rejects(
        store.pull(`${proxy.host}/app/rich@${asked}`, quiet),
        (error) => isAegisError(error, 'DIGEST_MISMATCH'),
      );
      assert.deepEqual(await storeEntries(join(work.path, 'swapped')), {
        blobs: [],
        images: [],
        refs: [],
        tmp: [],
      });
    } finally {
      await proxy.stop();
    }
  });

  test('of a blob that does not match its digest keeps nothing of it', async () => {
    const proxy: TestProxy = await startProxy(registry.host, {
      corruptBlob: rich.layerDigests[0]!,
    });
    try {
      const store = newStore('corrupt');
      await assert.rejects(
        store.pull(`${proxy.host}/app/rich:v1`, quiet),
        (error) => isAegisError(error, 'DIGEST_MISMATCH'),
      );
      const entries = await storeEntries(join(work.path, 'corrupt'));
      assert.ok(!entries.blobs?.includes(rich.layerDigests[0]!.slice(7)));
      assert.deepEqual(
        [entries.images, entries.refs, entries.tmp],
        [[], [], []],
      );
      await assertBlobsVerified(join(work.path, 'corrupt'));
    } finally {
      await proxy.stop();
    }
  });

  test('downloads layers in parallel', async () => {
    const proxy = await startProxy(registry.host, { delayBlobsMs: 200 });
    try {
      const store = newStore('parallel');
      await store.pull(`${proxy.host}/app/rich:v1`, quiet);
      assert.equal(proxy.blobRequests.length, 4, 'a config and three layers');
      assert.ok(
        proxy.maxOpenBlobRequests >= 2,
        `at most ${proxy.maxOpenBlobRequests} blob request at once`,
      );
    } finally {
      await proxy.stop();
    }
  });

  test('asks the registry for the tag again on every pull', async () => {
    const store = newStore('moving');
    const ref = `${registry.host}/moving:latest`;
    const first = await writeImageLayout(layout, 'first', smallImage('first'));
    skopeoPush(layout, 'first', ref);
    assert.equal((await store.pull(ref, quiet)).digest, first.configDigest);

    const second = await writeImageLayout(
      layout,
      'second',
      smallImage('second'),
    );
    skopeoPush(layout, 'second', ref);
    assert.equal((await store.pull(ref, quiet)).digest, second.configDigest);
    assert.equal((await store.resolve(ref)).digest, second.configDigest);
  });

  test('of a name the registry lacks says so', async () => {
    const store = newStore('missing');
    await assert.rejects(
      store.pull(`${registry.host}/nope:v1`, quiet),
      (error) =>
        isAegisError(error, 'NOT_FOUND') && error.message.includes('nope'),
    );
  });
});
