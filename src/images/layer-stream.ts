import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Opens a layer blob as an uncompressed tar stream. The compression is
 * read from the blob's first bytes rather than its media type, because
 * docker-save archives and some registries label layers loosely.
 */
export async function openLayerTar(blobPath: string): Promise<Readable> {
  const magic = await readHead(blobPath, 4);
  const raw = createReadStream(blobPath, { highWaterMark: 1024 * 1024 });
  if (magic.subarray(0, 2).equals(GZIP_MAGIC))
    return raw.pipe(relay(raw, createGunzip({ chunkSize: 256 * 1024 })));
  if (magic.equals(ZSTD_MAGIC))
    return raw.pipe(
      relay(raw, createZstdDecompress({ chunkSize: 256 * 1024 })),
    );
  return raw;
}

// pipe() does not forward errors; make a read error fail the output too.
function relay<T extends NodeJS.ReadWriteStream & Readable>(
  source: Readable,
  target: T,
): T {
  source.on('error', (error) => target.destroy(error));
  return target;
}

async function readHead(path: string, lengthBytes: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(lengthBytes);
    const { bytesRead } = await file.read(buffer, 0, lengthBytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
