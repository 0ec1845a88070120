import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AegisError } from '../errors.ts';

/** The checkout's root, where `bash scripts/setup.sh` writes build/. */
export const PROJECT_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../..',
);

/** What every VM boots: the guest kernel and the agent's initramfs. */
export interface GuestArtifacts {
  kernelPath: string;
  initrdPath: string;
}

export interface DemoImage {
  diskPath: string;
  configPath: string;
}

export function guestDir(): string {
  return process.env.AEGIS_GUEST_DIR ?? path.join(PROJECT_ROOT, 'build/guest');
}

export function guestArtifacts(dir = guestDir()): GuestArtifacts {
  const artifacts = {
    kernelPath: path.join(dir, 'vmlinux'),
    initrdPath: path.join(dir, 'initrd.img'),
  };
  requireFiles(Object.values(artifacts));
  return artifacts;
}

export function demoImage(dir = guestDir()): DemoImage {
  const image = {
    diskPath: path.join(dir, 'demo.ext4'),
    configPath: path.join(dir, 'demo.json'),
  };
  requireFiles(Object.values(image));
  return image;
}

function requireFiles(files: string[]): void {
  for (const file of files) {
    if (!existsSync(file)) {
      throw new AegisError(
        'ARTIFACT_MISSING',
        `${file} has not been built; run \`bash scripts/setup.sh\``,
      );
    }
  }
}
