import type { ProcessSpec } from '../../control/messages.ts';
import { AegisError } from '../../errors.ts';
import type { ImageConfig } from '../../images/index.ts';
import type { InstanceConfig } from '../model.ts';
import type { Credentials } from './users.ts';

const DEFAULT_PATH =
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The workload's process, from the image config and the instance's
 * overrides, with Docker's rules: a new entrypoint drops the image's Cmd,
 * arguments replace the Cmd and keep the Entrypoint, and environment
 * variables override the image's by name.
 */
export function workloadSpec(
  image: ImageConfig,
  config: InstanceConfig,
  credentials: Credentials,
): ProcessSpec {
  const entrypoint = config.entrypoint ?? [...image.entrypoint];
  const cmd = config.cmd ?? (config.entrypoint === null ? [...image.cmd] : []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `image ${config.image} has no Entrypoint or Cmd; give a command ` +
        'after `--` or an --entrypoint',
    );
  }
  return {
    argv,
    env: mergeEnv([DEFAULT_PATH, ...image.env], config.env),
    cwd: image.workingDir === '' ? '/' : image.workingDir,
    ...credentials,
  };
}

/** Later entries win, by variable name; the first position is kept. */
export function mergeEnv(...lists: (readonly string[])[]): string[] {
  const byName = new Map<string, string>();
  for (const list of lists) {
    for (const pair of list) {
      const name = pair.includes('=') ? pair.slice(0, pair.indexOf('=')) : pair;
      byName.set(name, pair);
    }
  }
  return [...byName.values()];
}
