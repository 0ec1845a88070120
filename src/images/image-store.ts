import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { AegisError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { extractArchive } from './archive.ts';
import { BlobStore } from './blob-store.ts';
import { StoreLock } from './concurrency.ts';
import { collectGarbage, type PruneResult } from './gc.ts';
import type { ImageConfig } from './image-config.ts';
import { importArchive } from './load.ts';
import { type PrepareContext, prepareImage } from './prepare.ts';
import { defaultProgress } from './progress.ts';
import { fetchImage, type PullOptions } from './pull.ts';
import {
  type ImageRecord,
  listImageRecords,
  listRefs,
  readImageRecord,
  readRef,
  removeRef,
  shortId,
  writeRef,
} from './records.ts';
import {
  formatReference,
  type ImageReference,
  isDigest,
  parseReference,
} from './reference.ts';
import { StoreLayout } from './store-layout.ts';
import { DEFAULT_UNPACK_LIMITS, type UnpackLimits } from './unpack.ts';

export interface ImageStoreOptions {
  /** The store's directory; the daemon uses $AEGIS_HOME/images. */
  readonly root: string;
  readonly log?: Logger;
  /** Bounds on unpacked bytes and entries, against decompression bombs. */
  readonly limits?: Partial<UnpackLimits>;
  /** Registries (`host[:port]`) that may be reached over plain HTTP. */
  readonly insecureRegistries?: readonly string[];
}

/** What an instance needs to boot from an image. Nothing is copied. */
export interface ResolvedImage {
  /** The image id: the digest of its config. */
  readonly digest: string;
  /** The shared read-only ext4 root disk. */
  readonly diskPath: string;
  /** The image config as JSON, beside the disk. */
  readonly configPath: string;
  readonly config: ImageConfig;
}

export interface ImageSummary {
  readonly digest: string;
  readonly refs: readonly string[];
  readonly diskBytes: number;
  readonly createdAt: string;
}

/**
 * The local image store: pull from registries, load archives, and hand
 * out each image's shared root disk. Safe for concurrent use within one
 * process; one daemon owns a store root.
 */
export class ImageStore {
  readonly #layout: StoreLayout;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  readonly #limits: UnpackLimits;
  readonly #insecure: ReadonlySet<string>;
  readonly #lock = new StoreLock();

  constructor(options: ImageStoreOptions) {
    this.#layout = new StoreLayout(options.root);
    this.#blobs = new BlobStore(this.#layout);
    this.#log = (options.log ?? silentLogger).child({ component: 'images' });
    this.#limits = { ...DEFAULT_UNPACK_LIMITS, ...options.limits };
    this.#insecure = new Set(options.insecureRegistries ?? []);
  }

  /** Pulls `rawRef` (asking the registry for the tag every time) and
   *  prepares its root disk. */
  async pull(
    rawRef: string,
    options: PullOptions = {},
  ): Promise<ResolvedImage> {
    const ref = parseReference(rawRef);
    const progress = options.progress ?? defaultProgress();
    return this.#lock.shared(async () => {
      await this.#ensureDirs();
      try {
        const fetchStartMs = Date.now();
        const insecure = options.insecure ?? this.#insecure.has(ref.registry);
        const fetched = await fetchImage(
          this.#blobs,
          ref,
          { ...options, insecure },
          progress,
        );
        const fetchMs = Date.now() - fetchStartMs;
        const record = await prepareImage(this.#prepareContext(), {
          configDigest: fetched.configDigest,
          layerDigests: fetched.layerDigests,
          otherBlobs: fetched.manifestBlobs,
        });
        await writeRef(this.#layout, {
          ref: refKey(ref),
          imageId: record.id,
          manifestDigest: fetched.manifestDigest,
        });
        this.#log.info(
          { ref: formatReference(ref), image: shortId(record.id), fetchMs },
          'pulled image',
        );
        return this.#resolved(record);
      } finally {
        progress.close();
      }
    });
  }

  /**
   * Loads a docker-save archive or an OCI layout tar. `tag` names every
   * image in it, besides the names the archive itself gives.
   */
  async load(
    source: Readable,
    options: { tag?: string } = {},
  ): Promise<ResolvedImage[]> {
    const extraRef =
      options.tag === undefined
        ? undefined
        : refKey(parseReference(options.tag));
    return this.#lock.shared(async () => {
      await this.#ensureDirs();
      const workDir = this.#layout.tmp('load');
      try {
        const archive = await extractArchive(source, workDir, this.#limits);
        const images = await importArchive(archive, this.#blobs);
        const resolved: ResolvedImage[] = [];
        for (const image of images) {
          const record = await prepareImage(this.#prepareContext(), {
            configDigest: image.configDigest,
            layerDigests: image.layerDigests,
            otherBlobs: image.manifestBlobs,
          });
          for (const ref of [
            ...image.refs,
            ...(extraRef === undefined ? [] : [extraRef]),
          ]) {
            await writeRef(this.#layout, {
              ref,
              imageId: record.id,
              ...(image.manifestDigest !== undefined && {
                manifestDigest: image.manifestDigest,
              }),
            });
          }
          resolved.push(this.#resolved(record));
        }
        return resolved;
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    });
  }

  /** Finds a stored image by reference or by id (`sha256:…`). */
  async resolve(rawRef: string): Promise<ResolvedImage> {
    const imageId = await this.#imageIdOf(rawRef);
    const record = await readImageRecord(this.#layout, imageId);
    if (record === undefined) throw notStored(rawRef);
    return this.#resolved(record);
  }

  async list(): Promise<ImageSummary[]> {
    const refs = await listRefs(this.#layout);
    const records = await listImageRecords(this.#layout);
    return records.map((record) => ({
      digest: record.id,
      refs: refs
        .filter((ref) => ref.imageId === record.id)
        .map((ref) => ref.ref)
        .sort(),
      diskBytes: record.diskBytes,
      createdAt: record.createdAt,
    }));
  }

  /**
   * Removes a reference, or every reference to an image id. The image's
   * disk and blobs go at the next prune, once no instance uses them.
   * Returns the references removed.
   */
  async remove(rawRef: string): Promise<string[]> {
    return this.#lock.exclusive(async () => {
      const refs = isDigest(rawRef)
        ? (await listRefs(this.#layout))
            .filter((ref) => ref.imageId === rawRef)
            .map((ref) => ref.ref)
        : [refKey(parseReference(rawRef))];
      const existing = await Promise.all(
        refs.map((ref) => readRef(this.#layout, ref)),
      );
      if (existing.every((ref) => ref === undefined)) throw notStored(rawRef);
      await Promise.all(refs.map((ref) => removeRef(this.#layout, ref)));
      return refs;
    });
  }

  /**
   * Deletes images no reference names and no instance uses, blobs no
   * remaining image needs, and leftovers of interrupted work. `inUse`
   * holds image ids (`digest` of resolve); with `all`, named images not
   * in use go too.
   */
  prune(
    inUse: ReadonlySet<string>,
    options: { all?: boolean } = {},
  ): Promise<PruneResult> {
    return this.#lock.exclusive(() =>
      collectGarbage(this.#layout, inUse, options.all === true, this.#log),
    );
  }

  async #imageIdOf(rawRef: string): Promise<string> {
    if (isDigest(rawRef)) return rawRef;
    const ref = await readRef(this.#layout, refKey(parseReference(rawRef)));
    if (ref === undefined) throw notStored(rawRef);
    return ref.imageId;
  }

  #resolved(record: ImageRecord): ResolvedImage {
    return {
      digest: record.id,
      diskPath: this.#layout.disk(record.id),
      configPath: this.#layout.imageConfig(record.id),
      config: record.config,
    };
  }

  #prepareContext(): PrepareContext {
    return {
      layout: this.#layout,
      blobs: this.#blobs,
      limits: this.#limits,
      log: this.#log,
    };
  }

  async #ensureDirs(): Promise<void> {
    await mkdir(this.#layout.tmpDir, { recursive: true, mode: 0o700 });
  }
}

/** A reference names its image by digest when it has one, else by tag. */
function refKey(ref: ImageReference): string {
  const { tag, ...rest } = ref;
  return formatReference(ref.digest === undefined ? ref : rest);
}

function notStored(rawRef: string): AegisError {
  return new AegisError(
    'NOT_FOUND',
    `image ${JSON.stringify(rawRef)} is not in the store; pull or load it ` +
      'first, and list what is there with aegis image ls',
  );
}
