/**
 * What a guest sees of an image's layers: the layers of the image tests
 * (whiteouts, an opaque directory, links, owners, modes, setuid) on top
 * of the demo's busybox tree, loaded through the CLI and read from inside
 * a real VM booted from the root disk the store built.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { guestDir } from '../../src/guest/artifacts.ts';
import { richImage, tarDirectory, tempDir } from '../images/helpers/images.ts';
import {
  type EntrySpec,
  writeImageLayout,
} from '../images/helpers/oci-builder.ts';
import { Aegis } from './helpers.ts';

const IMAGE = 'layered:test';

// One line per path: owner, mode in octal, name; then the listings and
// contents that whiteouts, the opaque directory and links decide.
const SURVEY = [
  'stat -c "%u:%g %a %n" /bin/tool /home/user /home/user/notes' +
    ' /srv/big-uid /opaque',
  'ls /opaque',
  'ls / | grep -c "^gone" || true',
  'cat /etc/config',
  'readlink /etc/alias',
  'stat -c "%h %i" /data/target /data/hard',
].join('; ');

describe('an image as the guest sees it', () => {
  const aegis = new Aegis();
  let work: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    work = await tempDir('image-disk');
    const rich = richImage('gzip');
    const base = { entries: treeEntries(path.join(guestDir(), 'demo-rootfs')) };
    const layout = path.join(work.path, 'layout');
    // As root, so that the survey can read what only root may.
    await writeImageLayout(layout, 'test', {
      config: { ...rich.config, User: '' },
      layers: [base, ...rich.layers],
    });
    tarDirectory(layout, `${layout}.tar`);
    await aegis.ok(['image', 'load', '-i', `${layout}.tar`, '-t', IMAGE]);
  });

  after(async () => {
    await aegis.dispose();
    await work?.cleanup();
  });

  it('keeps owners, modes, setuid bits, links and whiteouts', async () => {
    const output = await aegis.ok([
      'run',
      '--rm',
      '--entrypoint',
      '/bin/sh',
      IMAGE,
      '--',
      '-c',
      SURVEY,
    ]);
    const [tool, home, notes, bigUid, opaque, ...rest] = output
      .trim()
      .split('\n');
    assert.equal(tool, '0:0 4755 /bin/tool');
    assert.equal(home, '1000:1000 750 /home/user');
    assert.equal(notes, '1000:1000 640 /home/user/notes');
    assert.equal(bigUid, '100000:100001 644 /srv/big-uid');
    assert.equal(opaque, '0:0 700 /opaque');
    const [listing, goneCount, config, alias, target, hard] = rest;
    assert.equal(listing, 'new.txt', 'the opaque directory kept old files');
    assert.equal(goneCount, '0', 'a whited-out path is still there');
    assert.equal(config, 'v2');
    assert.equal(alias, 'config');
    const [targetLinks, targetInode] = target!.split(' ');
    assert.equal(targetLinks, '2');
    assert.equal(hard, `2 ${targetInode}`, 'the hard link is a copy');
  });
});

describe("the daemon's image settings", () => {
  it('take the unpack limit from its environment', async () => {
    const strict = new Aegis({ AEGIS_MAX_UNPACKED_BYTES: '1000' });
    try {
      const archive = path.join(guestDir(), 'demo.oci.tar');
      const result = await strict.run(['image', 'load', '-i', archive]);
      assert.equal(result.code, 8);
      assert.match(
        result.stderr,
        /^aegis: LAYER_TOO_LARGE: .*maxUnpackedBytes=1000/,
      );
      assert.equal(await strict.ok(['image', 'ls', '-q']), '');
    } finally {
      await strict.dispose();
    }
  });

  it('refuse to start on a malformed setting, naming it', async () => {
    const wrong = new Aegis({ AEGIS_INSECURE_REGISTRIES: 'http://x' });
    try {
      const result = await wrong.run(['daemon', 'start']);
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        /AEGIS_INSECURE_REGISTRIES entry "http:\/\/x"/,
      );
    } finally {
      await wrong.dispose();
    }
  });
});

/** The demo's busybox tree as layer entries, owned by root. */
function treeEntries(root: string): EntrySpec[] {
  const entries: EntrySpec[] = [];
  const walk = (relDir: string) => {
    for (const name of readdirSync(path.join(root, relDir)).sort()) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const abs = path.join(root, rel);
      const stat = lstatSync(abs);
      const mode = stat.mode & 0o7777;
      if (stat.isDirectory()) {
        entries.push({ name: `${rel}/`, type: 'directory', mode });
        walk(rel);
      } else if (stat.isSymbolicLink()) {
        entries.push({
          name: rel,
          type: 'symlink',
          linkname: readlinkSync(abs),
        });
      } else {
        entries.push({ name: rel, content: readFileSync(abs), mode });
      }
    }
  };
  walk('');
  return entries;
}
