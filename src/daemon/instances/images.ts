import type { Readable } from 'node:stream';
import type { ImageStore, ResolvedImage } from '../../images/index.ts';
import type { ImageOperations, ImageView, PullProgress } from '../manager.ts';

/**
 * The image store as the API sees it. Prune keeps every image an instance
 * uses, whether or not a reference still names it.
 */
export function imageOperations(
  store: ImageStore,
  imagesInUse: () => Set<string>,
): ImageOperations {
  const view = async (image: ResolvedImage): Promise<ImageView> => {
    const listed = await store.list();
    const found = listed.find((summary) => summary.digest === image.digest);
    return (
      found ?? { digest: image.digest, refs: [], diskBytes: 0, createdAt: '' }
    );
  };
  return {
    async pull(ref: string, progress: PullProgress) {
      const sink = { ...progress, close() {} };
      return view(await store.pull(ref, { progress: sink }));
    },
    async load(source: Readable, tag: string | null) {
      const options = tag === null ? {} : { tag };
      const images = await store.load(source, options);
      return Promise.all(images.map(view));
    },
    list: () => store.list(),
    remove: (ref: string) => store.remove(ref),
    prune: () => store.prune(imagesInUse()),
  };
}
