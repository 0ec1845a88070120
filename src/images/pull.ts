import { readFile } from 'node:fs/promises';
import { AegisError } from '../errors.ts';
import type { BlobStore } from './blob-store.ts';
import { mapBounded } from './concurrency.ts';
import { type Credentials, readDockerCredentials } from './credentials.ts';
import { digestMismatch, sha256Digest } from './digest.ts';
import { parseImageConfig } from './image-config.ts';
import {
  type Descriptor,
  type ImageManifest,
  parseManifest,
  selectPlatform,
} from './manifest.ts';
import type { ProgressSink } from './progress.ts';
import { formatReference, type ImageReference } from './reference.ts';
import { RegistryClient } from './registry-client.ts';

export interface PullOptions {
  /** Overrides credentials from the Docker config file. */
  readonly credentials?: Credentials;
  /** Where config.json is read from; defaults to $DOCKER_CONFIG or ~/.docker. */
  readonly dockerConfigDir?: string;
  /** Allow plain HTTP to a registry off loopback. */
  readonly insecure?: boolean;
  /** Layers downloaded at once; 3, as Docker does. */
  readonly concurrency?: number;
  readonly progress?: ProgressSink;
}

export interface FetchedImage {
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layerDigests: readonly string[];
  /** The index (when there was one) and the manifest. */
  readonly manifestBlobs: readonly string[];
}

const DEFAULT_CONCURRENCY = 3;

/**
 * Fetches everything an image needs into the blob store. The tag is asked
 * of the registry every time; blobs already verified are not fetched again.
 */
export async function fetchImage(
  blobs: BlobStore,
  ref: ImageReference,
  options: PullOptions,
  progress: ProgressSink,
): Promise<FetchedImage> {
  const credentials =
    options.credentials ??
    (await readDockerCredentials(ref.registry, options.dockerConfigDir));
  const client = new RegistryClient({
    registry: ref.registry,
    repository: ref.repository,
    ...(credentials !== undefined && { credentials }),
    ...(options.insecure !== undefined && { insecure: options.insecure }),
  });

  const top = await fetchManifest(client, blobs, ref.digest ?? ref.tag!, ref);
  const manifestBlobs = [top.digest];
  let manifest = top.parsed;
  let manifestDigest = top.digest;
  if (manifest.kind === 'index') {
    const chosen = selectPlatform(manifest, formatReference(ref));
    const inner = await fetchManifest(client, blobs, chosen.digest, ref);
    if (inner.parsed.kind !== 'manifest') throw nestedIndex(ref);
    manifest = inner.parsed;
    manifestDigest = inner.digest;
    manifestBlobs.push(inner.digest);
  }

  await fetchBlobs(client, blobs, manifest, options, progress);
  return {
    manifestDigest,
    configDigest: manifest.config.digest,
    layerDigests: manifest.layers.map((layer) => layer.digest),
    manifestBlobs,
  };
}

async function fetchManifest(
  client: RegistryClient,
  blobs: BlobStore,
  tagOrDigest: string,
  ref: ImageReference,
) {
  const bytes = await client.getManifest(tagOrDigest);
  const digest = sha256Digest(bytes);
  if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest) {
    throw digestMismatch(
      `manifest of ${formatReference(ref)}`,
      tagOrDigest,
      digest,
    );
  }
  const parsed = parseManifest(
    bytes,
    `manifest ${digest} of ${formatReference(ref)}`,
  );
  await blobs.writeBytes(bytes, digest, `manifest ${digest}`);
  return { digest, parsed };
}

async function fetchBlobs(
  client: RegistryClient,
  blobs: BlobStore,
  manifest: ImageManifest,
  options: PullOptions,
  progress: ProgressSink,
): Promise<void> {
  await fetchBlob(client, blobs, manifest.config, 'config', progress);
  // Read the config first: a wrong platform fails before any layer.
  const configDigest = manifest.config.digest;
  parseImageConfig(
    await readFile(blobs.path(configDigest)),
    `config ${configDigest}`,
  );
  const limit = options.concurrency ?? DEFAULT_CONCURRENCY;
  await mapBounded(manifest.layers, limit, (layer, signal) =>
    fetchBlob(client, blobs, layer, 'layer', progress, signal),
  );
}

async function fetchBlob(
  client: RegistryClient,
  blobs: BlobStore,
  descriptor: Descriptor,
  kind: string,
  progress: ProgressSink,
  signal?: AbortSignal,
): Promise<void> {
  const { digest, sizeBytes } = descriptor;
  if (await blobs.has(digest)) {
    progress.end(digest, 'cached');
    return;
  }
  progress.begin(digest, sizeBytes);
  let stop = () => {};
  const openBody = async () => {
    const body = await client.getBlob(digest);
    if (signal?.aborted) {
      body.destroy();
      throw new Error(`download of ${digest} stopped`);
    }
    // Destroying the body ends the download. An aborted fetch signal
    // would too, but undici then rethrows the abort reason uncaught.
    stop = () => body.destroy(new Error(`download of ${digest} stopped`));
    signal?.addEventListener('abort', stop, { once: true });
    return body;
  };
  try {
    await blobs.write(openBody, digest, `${kind} ${digest}`, {
      maxBytes: sizeBytes,
      onBytes: (bytes) => progress.advance(digest, bytes),
    });
    progress.end(digest, 'done');
  } catch (error) {
    progress.end(digest, 'failed');
    throw error;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

function nestedIndex(ref: ImageReference): AegisError {
  return new AegisError(
    'IMAGE_UNSUPPORTED',
    `the linux/amd64 entry of ${formatReference(ref)} is itself an index; ` +
      'Aegis reads one level of index',
  );
}
