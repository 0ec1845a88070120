import { execFileSync } from 'node:child_process';

const DEBUGFS = '/usr/sbin/debugfs';

export interface DiskInode {
  inode: number;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

function debugfs(diskPath: string, command: string): string {
  return execFileSync(DEBUGFS, ['-R', command, diskPath], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `debugfs stat`, parsed; undefined when the path is absent. */
export function statInDisk(
  diskPath: string,
  path: string,
): DiskInode | undefined {
  const out = debugfs(diskPath, `stat "${path}"`);
  const head = /Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+(\d+)/.exec(out);
  const owner =
    /User:\s+(\d+)\s+Group:\s+(\d+)(?:\s+Project:\s+\d+)?\s+Size:\s+(\d+)/.exec(
      out,
    );
  if (head === null || owner === null) return undefined;
  return {
    inode: Number(head[1]),
    type: head[2]!,
    mode: Number.parseInt(head[3]!, 8),
    uid: Number(owner[1]),
    gid: Number(owner[2]),
    size: Number(owner[3]),
  };
}

export function catInDisk(diskPath: string, path: string): string {
  return debugfs(diskPath, `cat "${path}"`);
}

export function debugfsRaw(diskPath: string, command: string): string {
  return debugfs(diskPath, command);
}

/**
 * Every path of the disk with type, mode, owner and size (and for files
 * a content hash), from `ls -p`, walked without mounting.
 */
export function listDisk(diskPath: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    const out = debugfs(diskPath, `ls -p "${dir}"`);
    for (const line of out.split('\n')) {
      const fields = line.split('/');
      if (fields.length < 7) continue;
      const [, , mode, uid, gid, name, size] = fields;
      if (
        name === '.' ||
        name === '..' ||
        (dir === '/' && name === 'lost+found')
      )
        continue;
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const modeBits = Number.parseInt(mode ?? '0', 8);
      lines.push(`${path} ${modeBits.toString(8)} ${uid}:${gid} ${size}`);
      if ((modeBits & 0o170000) === 0o040000) walk(path);
    }
  };
  walk('/');
  return lines.sort();
}
