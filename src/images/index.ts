/**
 * Images: pull from OCI registries, load archives, and build one shared
 * read-only ext4 root disk per image. See docs/images.md.
 */
export type { Credentials } from './credentials.ts';
export type { PruneResult } from './gc.ts';
export type { ImageConfig } from './image-config.ts';
export {
  ImageStore,
  type ImageStoreOptions,
  type ImageSummary,
  type ResolvedImage,
} from './image-store.ts';
export { type ProgressSink, silentProgress, TtyProgress } from './progress.ts';
export type { PullOptions } from './pull.ts';
export {
  formatReference,
  type ImageReference,
  parseReference,
} from './reference.ts';
export { DEFAULT_UNPACK_LIMITS, type UnpackLimits } from './unpack.ts';
