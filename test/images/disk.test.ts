import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImageStore, type ResolvedImage } from '../../src/images/index.ts';
import { catInDisk, debugfsRaw, statInDisk } from './helpers/disk.ts';
import {
  RICH_CONFIG,
  richImage,
  tarDirectory,
  tempDir,
} from './helpers/images.ts';
import { type BuiltImage, writeImageLayout } from './helpers/oci-builder.ts';
import { requireTools } from './helpers/tools.ts';

describe('the root disk of an image', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let store: ImageStore;
  let built: BuiltImage;
  let image: ResolvedImage;
  let archive: string;

  before(async () => {
    requireTools('mkfs.ext4', 'debugfs', 'tar');
    work = await tempDir('disk');
    built = await writeImageLayout(
      join(work.path, 'layout'),
      'v1',
      richImage(),
    );
    archive = join(work.path, 'rich.tar');
    tarDirectory(join(work.path, 'layout'), archive);
    store = new ImageStore({ root: join(work.path, 'store') });
    [image] = (await store.load(createReadStream(archive), {
      tag: 'example.test/rich:v1',
    })) as [ResolvedImage];
  });

  after(() => work.cleanup());

  test('is named by the config digest and carries the image config', async () => {
    assert.equal(image.digest, built.configDigest);
    assert.deepEqual(image.config, {
      entrypoint: ['/bin/tool'],
      cmd: ['--serve'],
      env: RICH_CONFIG.Env,
      workingDir: '/home/user',
      user: '1000:1000',
      exposedPorts: ['53/udp', '8080/tcp'],
      labels: { 'org.example.role': 'fixture' },
    });
    const { readFile } = await import('node:fs/promises');
    assert.deepEqual(
      JSON.parse(await readFile(image.configPath, 'utf8')),
      image.config,
    );
  });

  test('applies whiteouts and opaque directories', () => {
    assert.equal(statInDisk(image.diskPath, '/gone.txt'), undefined);
    assert.equal(statInDisk(image.diskPath, '/gonedir'), undefined);
    assert.equal(statInDisk(image.diskPath, '/opaque/old.txt'), undefined);
    assert.equal(catInDisk(image.diskPath, '/opaque/new.txt'), 'new\n');
    assert.equal(statInDisk(image.diskPath, '/opaque')?.mode, 0o700);
    assert.equal(catInDisk(image.diskPath, '/etc/config'), 'v2\n');
    assert.equal(statInDisk(image.diskPath, '/.wh.gone.txt'), undefined);
  });

  test('keeps owners, modes and setuid bits', () => {
    const tool = statInDisk(image.diskPath, '/bin/tool');
    assert.equal(tool?.mode, 0o4755);
    assert.equal(tool?.uid, 0);
    const home = statInDisk(image.diskPath, '/home/user');
    assert.deepEqual(
      [home?.type, home?.mode, home?.uid, home?.gid],
      ['directory', 0o750, 1000, 1000],
    );
    const notes = statInDisk(image.diskPath, '/home/user/notes');
    assert.deepEqual(
      [notes?.mode, notes?.uid, notes?.gid],
      [0o640, 1000, 1000],
    );
    const bigUid = statInDisk(image.diskPath, '/srv/big-uid');
    assert.deepEqual([bigUid?.uid, bigUid?.gid], [100000, 100001]);
  });

  test('keeps symlinks, hard links, xattrs and device nodes', () => {
    assert.match(
      debugfsRaw(image.diskPath, 'stat /etc/alias'),
      /Fast link dest: "config"/,
    );
    const target = statInDisk(image.diskPath, '/data/target');
    const hard = statInDisk(image.diskPath, '/data/hard');
    assert.equal(hard?.inode, target?.inode);
    assert.equal(catInDisk(image.diskPath, '/data/hard'), 'linked content\n');
    assert.match(
      debugfsRaw(image.diskPath, 'ea_get /srv/tagged user.note'),
      /hello/,
    );
    const dev = statInDisk(image.diskPath, '/dev/null');
    assert.deepEqual([dev?.type, dev?.mode], ['character special', 0o666]);
    assert.match(
      debugfsRaw(image.diskPath, 'stat /dev/null'),
      /Device major\/minor number: 01:03/,
    );
  });

  test('is read-only, sparse and reused by the next load', async () => {
    const before = await stat(image.diskPath);
    assert.equal(before.mode & 0o777, 0o444);
    assert.ok(before.blocks * 512 < before.size, 'the disk file is sparse');
    const [again] = await store.load(createReadStream(archive));
    assert.equal(again?.diskPath, image.diskPath);
    assert.equal((await stat(image.diskPath)).mtimeMs, before.mtimeMs);
  });

  test('is shared by every instance: resolve copies nothing', async () => {
    const first = await store.resolve('example.test/rich:v1');
    const second = await store.resolve(built.configDigest);
    assert.equal(first.diskPath, image.diskPath);
    assert.equal(second.diskPath, image.diskPath);
  });
});
