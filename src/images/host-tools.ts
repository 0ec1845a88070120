import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { AegisError } from '../errors.ts';

// Debian puts e2fsprogs in /usr/sbin, which a non-root PATH often lacks.
const SBIN_DIRS = ['/usr/sbin', '/sbin'];
const found = new Map<string, string>();

/** Finds a host tool, or fails naming the Debian package to install. */
export async function findTool(
  name: string,
  debPackage: string,
): Promise<string> {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SBIN_DIRS];
  for (const dir of dirs.filter((entry) => entry !== '')) {
    const candidate = join(dir, name);
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok) {
      found.set(name, candidate);
      return candidate;
    }
  }
  throw new AegisError(
    'HOST_UNSUPPORTED',
    `${name} is not installed; install it with apt-get install ${debPackage}`,
  );
}

export interface ToolOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool to completion; a non-zero exit becomes DISK_BUILD_FAILED. */
export function runTool(
  path: string,
  args: readonly string[],
): Promise<ToolOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      path,
      args,
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ stdout, stderr });
          return;
        }
        const detail = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(
          new AegisError(
            'DISK_BUILD_FAILED',
            `${path} ${args.join(' ')} failed: ${detail || error.message}`,
            { cause: error },
          ),
        );
      },
    );
  });
}
