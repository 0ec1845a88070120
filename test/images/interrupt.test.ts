import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImageStore, silentProgress } from '../../src/images/index.ts';
import { statInDisk } from './helpers/disk.ts';
import { tempDir } from './helpers/images.ts';
import { type BuiltImage, writeImageLayout } from './helpers/oci-builder.ts';
import { startProxy, type TestProxy } from './helpers/proxy.ts';
import {
  skopeoPush,
  startRegistry,
  type TestRegistry,
} from './helpers/registry.ts';
import { assertBlobsVerified, storeEntries } from './helpers/store-state.ts';
import { requireTools } from './helpers/tools.ts';

const BIG_BYTES = 4 * 1024 * 1024;
const STALL_AFTER_BYTES = 256 * 1024;

describe('a pull killed midway', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let registry: TestRegistry;
  let proxy: TestProxy;
  let built: BuiltImage;

  before(async () => {
    requireTools('docker-registry', 'skopeo', 'mkfs.ext4', 'debugfs');
    work = await tempDir('interrupt');
    registry = await startRegistry();
    const layout = join(work.path, 'layout');
    built = await writeImageLayout(layout, 'v1', {
      layers: [
        { entries: [{ name: 'small-a', content: 'a\n' }] },
        { entries: [{ name: 'small-b', content: 'b\n' }] },
        {
          compression: 'none',
          entries: [{ name: 'big', content: randomBytes(BIG_BYTES) }],
        },
      ],
    });
    skopeoPush(layout, 'v1', `${registry.host}/big:v1`);
    proxy = await startProxy(registry.host, {
      stallBlobsAfterBytes: STALL_AFTER_BYTES,
    });
  });

  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await work?.cleanup();
  });

  test('leaves no corrupt cache; the next pull completes, reusing blobs', async () => {
    const root = join(work.path, 'store');
    const ref = `${proxy.host}/big:v1`;
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'helpers', 'pull-child.ts'), root, ref],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await Promise.race([proxy.stalled, exited]);
    assert.equal(
      child.exitCode,
      null,
      'the child pull ended before it could be killed',
    );
    child.kill('SIGKILL');
    await exited;

    const killed = await storeEntries(root);
    assert.deepEqual([killed.images, killed.refs], [[], []]);
    assert.ok(
      !killed.blobs?.includes(built.layerDigests[2]!.slice(7)),
      'the stalled blob is not kept',
    );
    const keptBlobs = await assertBlobsVerified(root);

    proxy.mode.stallBlobsAfterBytes = undefined;
    proxy.blobRequests.length = 0;
    const store = new ImageStore({ root });
    const image = await store.pull(ref, { progress: silentProgress });
    assert.equal(image.digest, built.configDigest);
    assert.equal(statInDisk(image.diskPath, '/big')?.size, BIG_BYTES);
    assert.equal(await assertBlobsVerified(root), 5);
    assert.equal(
      proxy.blobRequests.length,
      5 - keptBlobs,
      'verified blobs are not fetched again',
    );

    await store.prune(new Set());
    assert.deepEqual((await storeEntries(root)).tmp, []);
  });
});
