import { readFile } from 'node:fs/promises';
import { AegisError } from '../errors.ts';
import { type ArchiveFiles, archivePath } from './archive.ts';
import type { BlobStore } from './blob-store.ts';
import { digestMismatch, sha256Digest } from './digest.ts';
import {
  type ImageManifest,
  parseDescriptor,
  parseJsonObject,
  parseManifest,
  selectPlatform,
} from './manifest.ts';
import { formatReference, parseReference } from './reference.ts';

/** An image found in an archive, its blobs moved into the store. */
export interface ArchivedImage {
  readonly configDigest: string;
  readonly layerDigests: readonly string[];
  readonly manifestBlobs: readonly string[];
  readonly manifestDigest?: string;
  /** Canonical references the archive gives the image. */
  readonly refs: readonly string[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

/** Reads an extracted OCI layout or docker-save archive. */
export function importArchive(
  archive: ArchiveFiles,
  blobs: BlobStore,
): Promise<ArchivedImage[]> {
  const importer = new BlobImporter(archive, blobs);
  if (archive.files.has('index.json')) return importOciLayout(importer);
  if (archive.files.has('manifest.json')) return importDockerSave(importer);
  throw new AegisError(
    'IMAGE_UNSUPPORTED',
    'the archive has neither index.json (OCI image layout) nor ' +
      'manifest.json (docker save); load an archive made by docker save, ' +
      'skopeo or an OCI layout packed with tar',
  );
}

// OCI image-spec image-layout: index.json lists manifests (or indexes)
// whose blobs are under blobs/<alg>/<hex>.
async function importOciLayout(
  importer: BlobImporter,
): Promise<ArchivedImage[]> {
  const indexBytes = await importer.read('index.json');
  const index = parseJsonObject(indexBytes, 'index.json of the archive');
  const entries = Array.isArray(index.manifests) ? index.manifests : [];
  const images: ArchivedImage[] = [];
  for (const rawEntry of entries) {
    const entry = parseDescriptor(rawEntry, 'index.json of the archive');
    const manifestBlobs = [entry.digest];
    let manifestDigest = entry.digest;
    let manifest = await importer.manifest(entry.digest);
    if (manifest.kind === 'index') {
      manifestDigest = selectPlatform(manifest, `index ${entry.digest}`).digest;
      manifest = await importer.manifest(manifestDigest);
      manifestBlobs.push(manifestDigest);
    }
    if (manifest.kind !== 'manifest') continue;
    const annotations = ((rawEntry as Record<string, unknown>).annotations ??
      {}) as Record<string, string>;
    images.push({
      ...(await importer.image(manifest)),
      manifestBlobs,
      manifestDigest,
      refs: refsOf([annotations[CONTAINERD_NAME], annotations[REF_NAME]]),
    });
  }
  return images;
}

// docker save: manifest.json is [{Config, RepoTags, Layers}] with paths
// into the archive; layers are plain or compressed tars.
async function importDockerSave(
  importer: BlobImporter,
): Promise<ArchivedImage[]> {
  const bytes = await importer.read('manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AegisError(
      'IMAGE_UNSUPPORTED',
      'manifest.json of the archive is not valid JSON; make the archive ' +
        'again with docker save or skopeo',
    );
  }
  if (!Array.isArray(raw)) {
    throw new AegisError(
      'IMAGE_UNSUPPORTED',
      'manifest.json of the archive is not a list',
    );
  }
  const images: ArchivedImage[] = [];
  for (const entry of raw as {
    Config?: string;
    RepoTags?: string[];
    Layers?: string[];
  }[]) {
    const configDigest = await importer.adopt(String(entry.Config));
    const layerDigests: string[] = [];
    for (const layer of entry.Layers ?? [])
      layerDigests.push(await importer.adopt(layer));
    images.push({
      configDigest,
      layerDigests,
      manifestBlobs: [],
      refs: refsOf(entry.RepoTags ?? []),
    });
  }
  return images;
}

function refsOf(names: readonly (string | undefined)[]): string[] {
  // A bare tag (skopeo's oci:DIR:TAG) names no repository: skip it.
  const full = names.filter(
    (name): name is string => name !== undefined && /[/:]/.test(name),
  );
  return [
    ...new Set(full.map((name) => formatReference(parseReference(name)))),
  ];
}

class BlobImporter {
  readonly #archive: ArchiveFiles;
  readonly #blobs: BlobStore;
  readonly #adopted = new Map<string, string>();

  constructor(archive: ArchiveFiles, blobs: BlobStore) {
    this.#archive = archive;
    this.#blobs = blobs;
  }

  read(name: string): Promise<Buffer> {
    return readFile(archivePath(this.#archive, name));
  }

  async manifest(digest: string) {
    const bytes = await this.read(blobName(digest));
    const actual = sha256Digest(bytes);
    if (actual !== digest)
      throw digestMismatch(`manifest ${digest}`, digest, actual);
    await this.#blobs.writeBytes(bytes, digest, `manifest ${digest}`);
    return parseManifest(bytes, `manifest ${digest} in the archive`);
  }

  async image(manifest: ImageManifest) {
    const configDigest = await this.adopt(
      blobName(manifest.config.digest),
      manifest.config.digest,
    );
    const layerDigests: string[] = [];
    for (const layer of manifest.layers) {
      layerDigests.push(await this.adopt(blobName(layer.digest), layer.digest));
    }
    return { configDigest, layerDigests };
  }

  /** Moves an archive member into the blob store; returns its digest. */
  async adopt(name: string, expected?: string): Promise<string> {
    const path = archivePath(this.#archive, name);
    const known = this.#adopted.get(path);
    if (known !== undefined) return known;
    const digest = await this.#blobs.adopt(
      path,
      expected,
      `${name} in the archive`,
    );
    this.#adopted.set(path, digest);
    return digest;
  }
}

function blobName(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}
