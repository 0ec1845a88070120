/**
 * Layer rules at their edges (OCI image spec, "Whiteouts"), and archives
 * that are not what they claim, through a real store and real disks.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tar from 'tar-stream';
import { isAegisError } from '../../src/errors.ts';
import { ImageStore } from '../../src/images/index.ts';
import { catInDisk, statInDisk } from './helpers/disk.ts';
import { tarDirectory, tempDir } from './helpers/images.ts';
import { type LayerSpec, writeImageLayout } from './helpers/oci-builder.ts';
import { requireTools } from './helpers/tools.ts';

describe('layers at the edges of the rules', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let cases = 0;

  before(async () => {
    requireTools('tar', 'mkfs.ext4', 'debugfs');
    work = await tempDir('layers');
  });

  after(() => work.cleanup());

  async function load(layers: LayerSpec[]) {
    const layout = join(work.path, `case-${++cases}`);
    await writeImageLayout(layout, 'v1', { layers });
    tarDirectory(layout, `${layout}.tar`);
    const store = new ImageStore({ root: `${layout}-store` });
    const [image] = await store.load(createReadStream(`${layout}.tar`));
    return image!.diskPath;
  }

  test('a whiteout hides lower layers only, not its own', async () => {
    const disk = await load([
      { entries: [{ name: 'old', content: 'lower\n' }] },
      {
        entries: [
          { name: 'mine', content: 'same layer\n' },
          { name: '.wh.mine' },
          { name: '.wh.old' },
        ],
      },
    ]);
    assert.equal(catInDisk(disk, '/mine'), 'same layer\n');
    assert.equal(statInDisk(disk, '/old'), undefined);
  });

  test('an opaque directory keeps what its own layer made, parents too', async () => {
    const disk = await load([
      { entries: [{ name: 'a/b/lower', content: 'lower\n' }] },
      {
        entries: [
          { name: 'a/b/new/file', content: 'upper\n' },
          { name: 'a/b/.wh..wh..opq' },
        ],
      },
    ]);
    assert.equal(catInDisk(disk, '/a/b/new/file'), 'upper\n');
    assert.equal(statInDisk(disk, '/a/b/lower'), undefined);
  });

  test('a docker save archive with a broken manifest.json says so', async () => {
    const archive = join(work.path, 'broken.tar');
    const pack = tar.pack();
    pack.entry({ name: 'manifest.json' }, 'not json');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack as unknown as AsyncIterable<Buffer>) {
      chunks.push(chunk);
    }
    await writeFile(archive, Buffer.concat(chunks));
    const store = new ImageStore({ root: join(work.path, 'broken-store') });
    await assert.rejects(
      store.load(createReadStream(archive)),
      (error) =>
        isAegisError(error, 'IMAGE_UNSUPPORTED') &&
        /manifest.json of the archive is not valid JSON/.test(error.message),
    );
  });
});
