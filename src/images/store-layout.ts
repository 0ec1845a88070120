import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { digestHex } from './digest.ts';

/**
 * Where things live under the store root:
 *
 *   blobs/sha256/<hex>        verified manifests, configs and layers
 *   images/<hex>/image.json   an image record, named by config digest
 *   images/<hex>/config.json  the config an instance reads
 *   images/<hex>/disk.ext4    the shared read-only root disk
 *   refs/<name>.json          a tag or digest reference → image
 *   tmp/<pid>-<random>        work in progress; never read as a result
 *
 * Everything outside tmp/ appears by rename, whole and verified.
 */
export class StoreLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  get imagesDir(): string {
    return join(this.root, 'images');
  }

  get refsDir(): string {
    return join(this.root, 'refs');
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  blob(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  imageDir(imageId: string): string {
    return join(this.imagesDir, digestHex(imageId));
  }

  imageRecord(imageId: string): string {
    return join(this.imageDir(imageId), 'image.json');
  }

  imageConfig(imageId: string): string {
    return join(this.imageDir(imageId), 'config.json');
  }

  disk(imageId: string): string {
    return join(this.imageDir(imageId), 'disk.ext4');
  }

  ref(canonicalRef: string): string {
    return join(this.refsDir, `${encodeURIComponent(canonicalRef)}.json`);
  }

  /** A fresh temp path; the pid lets prune tell live work from leftovers. */
  tmp(label: string): string {
    const random = randomBytes(6).toString('hex');
    return join(this.tmpDir, `${process.pid}-${random}-${label}`);
  }
}
