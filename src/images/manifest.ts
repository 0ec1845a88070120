import { AegisError } from '../errors.ts';
import { checkDigest } from './digest.ts';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Every manifest type a pull asks for, most specific first. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ');

/** Manifests are small; a bigger one is a hostile registry. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly sizeBytes: number;
  readonly platform?: Platform;
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly manifests: readonly Descriptor[];
}

export const HOST_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/**
 * Parses an OCI or Docker v2 manifest or index. The shape decides when
 * the media type is absent, as OCI image-spec allows.
 */
export function parseManifest(
  bytes: Buffer,
  where: string,
): ImageManifest | ImageIndex {
  const raw = parseJsonObject(bytes, where);
  const mediaType = raw.mediaType;
  if (raw.schemaVersion === 1 || String(mediaType).includes('v1+prettyjws')) {
    throw unsupported(where, 'is a Docker schema 1 manifest');
  }
  if (Array.isArray(raw.manifests)) {
    const manifests = raw.manifests.map((entry) =>
      parseDescriptor(entry, where),
    );
    return { kind: 'index', manifests };
  }
  if (Array.isArray(raw.layers) && raw.config !== undefined) {
    const config = parseDescriptor(raw.config, where);
    const layers = raw.layers.map((entry) => parseLayer(entry, where));
    return { kind: 'manifest', config, layers };
  }
  throw unsupported(where, `has media type ${String(mediaType)}`);
}

function parseLayer(rawLayer: unknown, where: string): Descriptor {
  const layer = parseDescriptor(rawLayer, where);
  if (!layer.mediaType.includes('tar')) {
    throw unsupported(where, `has a layer of type ${layer.mediaType}`);
  }
  return layer;
}

export function parseDescriptor(rawEntry: unknown, where: string): Descriptor {
  const entry = rawEntry as Record<string, unknown> | null;
  const size = entry?.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw unsupported(where, `has a descriptor without a valid size`);
  }
  const platform = entry?.platform as Record<string, unknown> | undefined;
  return {
    mediaType: String(entry?.mediaType ?? ''),
    digest: checkDigest(entry?.digest, where),
    sizeBytes: size,
    ...(platform !== undefined && {
      platform: {
        os: String(platform.os),
        architecture: String(platform.architecture),
        ...(platform.variant !== undefined && {
          variant: String(platform.variant),
        }),
      },
    }),
  };
}

/** Picks the host's entry of a multi-platform index. */
export function selectPlatform(index: ImageIndex, where: string): Descriptor {
  const match = index.manifests.find(
    (entry) =>
      entry.platform?.os === HOST_PLATFORM.os &&
      entry.platform.architecture === HOST_PLATFORM.architecture,
  );
  if (match !== undefined) return match;
  const offered = index.manifests
    .map((entry) => `${entry.platform?.os}/${entry.platform?.architecture}`)
    .join(', ');
  throw unsupported(
    where,
    `offers no linux/amd64 image (it offers ${offered || 'none'})`,
  );
}

export function parseJsonObject(
  bytes: Buffer,
  where: string,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw unsupported(where, 'is not valid JSON', error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw unsupported(where, 'is not a JSON object');
  }
  return value as Record<string, unknown>;
}

function unsupported(where: string, why: string, cause?: unknown): AegisError {
  return new AegisError(
    'IMAGE_UNSUPPORTED',
    `${where} ${why}; Aegis reads OCI and Docker v2 images for linux/amd64`,
    cause === undefined ? undefined : { cause },
  );
}
