import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { AegisError } from '../errors.ts';
import { cleanEntryPath } from './layer-path.ts';
import type { UnpackLimits } from './unpack.ts';

/** The files of an image archive, extracted flat into a temp directory. */
export interface ArchiveFiles {
  readonly dir: string;
  readonly files: ReadonlySet<string>;
  /** Symlinks, which docker save uses for layers shared by images. */
  readonly links: ReadonlyMap<string, string>;
}

const MAX_LINK_HOPS = 8;
const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = constants;
const ARCHIVE = 'archive';

/**
 * Extracts a docker-save or OCI-layout tar. Only regular files are
 * written, under directories this function creates, so the checks a
 * layer needs (symlinks in the way) cannot arise; symlinks are recorded
 * and resolved inside the archive when read.
 */
export async function extractArchive(
  source: Readable,
  dir: string,
  limits: UnpackLimits,
): Promise<ArchiveFiles> {
  const files = new Set<string>();
  const links = new Map<string, string>();
  const extract = tar.extract();
  const feeding = pipeline(source, extract);
  let totalBytes = 0;
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const relPath = cleanEntryPath(header.name, ARCHIVE);
      if (header.type === 'file' && relPath !== '') {
        totalBytes += header.size;
        if (
          totalBytes > limits.maxUnpackedBytes ||
          files.size >= limits.maxEntries
        ) {
          throw archiveTooLarge(limits);
        }
        const body = entry as unknown as AsyncIterable<Buffer>;
        await writeArchiveFile(join(dir, relPath), body);
        files.add(relPath);
      } else if (header.type === 'symlink') {
        const target = posix.join(posix.dirname(relPath), header.linkname);
        links.set(relPath, cleanEntryPath(target, ARCHIVE));
      }
      entry.resume();
    }
    await feeding;
  } catch (error) {
    extract.destroy();
    await feeding.catch(() => {});
    throw error;
  }
  return { dir, files, links };
}

/** The extracted path of an archive member, following its symlinks. */
export function archivePath(archive: ArchiveFiles, rawName: string): string {
  let relPath = cleanEntryPath(rawName, ARCHIVE);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    if (archive.files.has(relPath)) return join(archive.dir, relPath);
    const next = archive.links.get(relPath);
    if (next === undefined) break;
    relPath = next;
  }
  throw new AegisError(
    'IMAGE_UNSUPPORTED',
    `the archive names ${JSON.stringify(rawName)} but does not hold it; ` +
      'it is not a complete docker-save archive or OCI layout',
  );
}

async function writeArchiveFile(
  absPath: string,
  body: AsyncIterable<Buffer>,
): Promise<void> {
  await mkdir(dirname(absPath), { recursive: true });
  const file = await open(
    absPath,
    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
    0o600,
  );
  try {
    for await (const chunk of body) await file.write(chunk);
  } finally {
    await file.close();
  }
}

function archiveTooLarge(limits: UnpackLimits): AegisError {
  return new AegisError(
    'LAYER_TOO_LARGE',
    `the archive holds more than maxUnpackedBytes=${limits.maxUnpackedBytes} ` +
      `or maxEntries=${limits.maxEntries}; raise the limit if you trust it`,
  );
}
