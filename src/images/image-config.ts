import { AegisError } from '../errors.ts';
import { checkDigest } from './digest.ts';
import { parseJsonObject } from './manifest.ts';

/** What an instance needs from an image's config to start its process. */
export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: readonly string[];
  readonly workingDir: string;
  readonly user: string;
  /** As in the image: `80/tcp`, `53/udp`. */
  readonly exposedPorts: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ParsedImageConfig {
  readonly config: ImageConfig;
  /** Digests of the uncompressed layers, bottom first. */
  readonly diffIds: readonly string[];
}

/** Reads the parts of an OCI or Docker image config that Aegis uses. */
export function parseImageConfig(
  bytes: Buffer,
  where: string,
): ParsedImageConfig {
  const raw = parseJsonObject(bytes, where);
  checkPlatform(raw, where);
  const rootfs = raw.rootfs as { diff_ids?: unknown } | undefined;
  if (!Array.isArray(rootfs?.diff_ids)) {
    throw new AegisError(
      'IMAGE_UNSUPPORTED',
      `${where} has no rootfs.diff_ids; it is not an image config`,
    );
  }
  const diffIds = rootfs.diff_ids.map((id) => checkDigest(id, where));
  const inner = (raw.config ?? {}) as Record<string, unknown>;
  return { config: toImageConfig(inner), diffIds };
}

function checkPlatform(raw: Record<string, unknown>, where: string): void {
  const os = raw.os ?? 'linux';
  const architecture = raw.architecture ?? 'amd64';
  if (os === 'linux' && architecture === 'amd64') return;
  throw new AegisError(
    'IMAGE_UNSUPPORTED',
    `${where} is for ${String(os)}/${String(architecture)}; ` +
      'Aegis runs linux/amd64 images',
  );
}

function toImageConfig(inner: Record<string, unknown>): ImageConfig {
  return {
    entrypoint: strings(inner.Entrypoint),
    cmd: strings(inner.Cmd),
    env: strings(inner.Env),
    workingDir: typeof inner.WorkingDir === 'string' ? inner.WorkingDir : '',
    user: typeof inner.User === 'string' ? inner.User : '',
    exposedPorts: Object.keys(objectOf(inner.ExposedPorts)).sort(),
    labels: Object.fromEntries(
      Object.entries(objectOf(inner.Labels)).map(([k, v]) => [k, String(v)]),
    ),
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function objectOf(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return {};
  return value as Record<string, unknown>;
}
