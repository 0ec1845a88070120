import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, digestMismatch } from './digest.ts';
import type { StoreLayout } from './store-layout.ts';

/** Reports bytes as they arrive, for progress displays. */
export type OnBytes = (bytes: number) => void;

/**
 * Content-addressed blobs. A blob is written to tmp/, hashed while it
 * streams, flushed, and renamed into place only when its digest matches,
 * so blobs/ never holds a partial or corrupt file.
 */
export class BlobStore {
  readonly #layout: StoreLayout;

  constructor(layout: StoreLayout) {
    this.#layout = layout;
  }

  path(digest: string): string {
    return this.#layout.blob(digest);
  }

  async has(digest: string): Promise<boolean> {
    const found = await stat(this.path(digest)).catch(() => undefined);
    return found?.isFile() === true;
  }

  /**
   * Streams a blob in. `openSource` is called once the temp file is
   * ready, so the source's errors always have a listener.
   */
  async write(
    openSource: () => Promise<Readable>,
    digest: string,
    what: string,
    options: { maxBytes?: number; onBytes?: OnBytes } = {},
  ): Promise<void> {
    const tmpPath = this.#layout.tmp('blob');
    const hasher = new DigestingStream(what, options.maxBytes);
    let source: Readable | undefined;
    try {
      await this.#ensureDirs();
      const file = await open(tmpPath, 'wx', 0o644);
      try {
        source = await openSource();
        await pipeline(
          source,
          hasher,
          async (chunks: AsyncIterable<Buffer>) => {
            for await (const chunk of chunks) {
              await file.write(chunk);
              options.onBytes?.(chunk.length);
            }
          },
        );
        await file.sync();
      } finally {
        await file.close();
      }
      const actual = hasher.digest();
      if (actual !== digest) throw digestMismatch(what, digest, actual);
      await rename(tmpPath, this.path(digest));
    } catch (error) {
      source?.destroy();
      await rm(tmpPath, { force: true });
      throw error;
    }
  }

  writeBytes(bytes: Buffer, digest: string, what: string): Promise<void> {
    return this.write(async () => Readable.from([bytes]), digest, what);
  }

  /**
   * Moves a file already under tmp/ into the store after hashing it;
   * returns its digest, which must be `expected` when one is given.
   */
  async adopt(
    tmpPath: string,
    expected: string | undefined,
    what: string,
  ): Promise<string> {
    const hasher = new DigestingStream(what);
    await pipeline(createReadStream(tmpPath), hasher, async (chunks) => {
      for await (const _ of chunks);
    });
    const actual = hasher.digest();
    if (expected !== undefined && actual !== expected) {
      await rm(tmpPath, { force: true });
      throw digestMismatch(what, expected, actual);
    }
    await this.#ensureDirs();
    await rename(tmpPath, this.path(actual));
    return actual;
  }

  async #ensureDirs(): Promise<void> {
    await mkdir(this.#layout.blobsDir, { recursive: true });
    await mkdir(this.#layout.tmpDir, { recursive: true });
  }
}
