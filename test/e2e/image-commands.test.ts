/**
 * The `aegis image` commands through the daemon, against Debian's real
 * docker-registry on loopback: pull (quiet when not on a terminal), ls,
 * rm, prune, and prune keeping what an instance uses.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { guestDir } from '../../src/guest/artifacts.ts';
import {
  skopeoPush,
  startRegistry,
  type TestRegistry,
} from '../images/helpers/registry.ts';
import { Aegis } from './helpers.ts';

describe('aegis image, against a registry', () => {
  const aegis = new Aegis();
  let registry: TestRegistry;
  let layout: string;

  before(async () => {
    registry = await startRegistry();
    layout = mkdtempSync(path.join(tmpdir(), 'aegis-demo-layout-'));
    execFileSync('tar', [
      '-xf',
      path.join(guestDir(), 'demo.oci.tar'),
      '-C',
      layout,
    ]);
    skopeoPush(layout, 'aegis-demo:latest', `${registry.host}/demo:v1`);
  });

  after(async () => {
    await aegis.dispose();
    await registry?.stop();
    rmSync(layout, { recursive: true, force: true });
  });

  it('pulls quietly off a terminal, and lists what it pulled', async () => {
    const ref = `${registry.host}/demo:v1`;
    const pulled = await aegis.run(['image', 'pull', ref]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stderr, '', 'progress was drawn off a terminal');
    assert.match(pulled.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.match(await aegis.ok(['image', 'ls']), /demo +v1|demo:v1/);
  });

  it('prunes what no instance uses, and keeps what one does', async () => {
    const ref = `${registry.host}/demo:v1`;
    await aegis.ok(['instance', 'start', '--image', ref, '--name', 'user']);
    await aegis.ok(['image', 'prune']);
    assert.match(await aegis.ok(['image', 'ls']), /demo/);

    await aegis.ok(['instance', 'rm', '-f', 'user']);
    await aegis.ok(['image', 'rm', ref]);
    await aegis.ok(['image', 'prune']);
    assert.equal(await aegis.ok(['image', 'ls', '-q']), '');
  });
});
