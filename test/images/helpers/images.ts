import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageSpec } from './oci-builder.ts';

/** A temp directory removed by the returned cleanup. */
export async function tempDir(
  label: string,
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `aegis-${label}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Packs a directory (an OCI layout) into a tar file with GNU tar. */
export function tarDirectory(dir: string, tarPath: string): void {
  execFileSync('tar', ['-C', dir, '-cf', tarPath, '.']);
}

export const RICH_CONFIG = {
  Entrypoint: ['/bin/tool'],
  Cmd: ['--serve'],
  Env: ['PATH=/usr/bin:/bin', 'MODE=test'],
  WorkingDir: '/home/user',
  User: '1000:1000',
  ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
  Labels: { 'org.example.role': 'fixture' },
};

/**
 * Three layers in three compressions exercising what unpack must get
 * right: whiteouts, an opaque directory, a symlink, a hard link, a setuid
 * file, files owned by uid 1000 and 100000, an xattr and a device node.
 * Docker archives cannot hold zstd, hence the choice for the middle layer.
 */
export function richImage(
  middleCompression: 'zstd' | 'gzip' = 'zstd',
): ImageSpec {
  return {
    config: RICH_CONFIG,
    layers: [
      {
        compression: 'gzip',
        entries: [
          { name: 'bin/', type: 'directory' },
          { name: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o4755 },
          { name: 'etc/', type: 'directory' },
          { name: 'etc/config', content: 'v1\n' },
          { name: 'gone.txt', content: 'remove me\n' },
          { name: 'gonedir/', type: 'directory' },
          { name: 'gonedir/inner', content: 'inner\n' },
          { name: 'opaque/', type: 'directory' },
          { name: 'opaque/old.txt', content: 'old\n' },
          {
            name: 'home/user/',
            type: 'directory',
            mode: 0o750,
            uid: 1000,
            gid: 1000,
          },
          {
            name: 'home/user/notes',
            content: 'mine\n',
            mode: 0o640,
            uid: 1000,
            gid: 1000,
          },
          { name: 'data/target', content: 'linked content\n' },
        ],
      },
      {
        compression: middleCompression,
        entries: [
          { name: '.wh.gone.txt' },
          { name: '.wh.gonedir' },
          { name: 'opaque/', type: 'directory', mode: 0o700 },
          { name: 'opaque/.wh..wh..opq' },
          { name: 'opaque/new.txt', content: 'new\n' },
          { name: 'etc/config', content: 'v2\n' },
          { name: 'etc/alias', type: 'symlink', linkname: 'config' },
          { name: 'data/hard', type: 'link', linkname: 'data/target' },
        ],
      },
      {
        compression: 'none',
        entries: [
          { name: 'dev/', type: 'directory' },
          {
            name: 'dev/null',
            type: 'character-device',
            devmajor: 1,
            devminor: 3,
            mode: 0o666,
          },
          { name: 'srv/big-uid', content: 'x\n', uid: 100000, gid: 100001 },
          {
            name: 'srv/tagged',
            content: 'xattr\n',
            pax: { 'SCHILY.xattr.user.note': 'hello' },
          },
        ],
      },
    ],
  };
}

/** A small image sharing nothing with richImage. */
export function smallImage(marker: string): ImageSpec {
  return {
    config: { Cmd: ['/hello'] },
    layers: [
      { entries: [{ name: 'hello', content: `${marker}\n`, mode: 0o755 }] },
    ],
  };
}
