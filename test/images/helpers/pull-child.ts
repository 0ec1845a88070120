// Pulls one image into a store, for tests that kill a pull midway.
import { ImageStore, silentProgress } from '../../../src/images/index.ts';

const [root, ref] = process.argv.slice(2);
if (root === undefined || ref === undefined)
  throw new Error('usage: pull-child ROOT REF');
await new ImageStore({ root }).pull(ref, { progress: silentProgress });
