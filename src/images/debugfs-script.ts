import type { Stats } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseOf, parentOf } from './layer-path.ts';
import type { EntryMeta } from './unpack.ts';

const TYPE_BITS = { c: 0o020000, b: 0o060000, p: 0o010000 } as const;

/**
 * mkfs.ext4 -d copies owner and mode from the host tree, which an
 * unprivileged unpack cannot set (and which Aegis never sets on the host,
 * so no setuid-root file ever exists outside a disk). This script for
 * `debugfs -w` puts the layers' owners, modes, xattrs and device nodes
 * into the disk instead. Only paths that differ from the host get a line.
 */
export async function writeFixupScript(
  meta: ReadonlyMap<string, EntryMeta>,
  stats: ReadonlyMap<string, Stats>,
  workDir: string,
): Promise<{ scriptPath: string; lines: number }> {
  const lines: string[] = [];
  let xattrFiles = 0;
  for (const [relPath, entry] of meta) {
    const stat = stats.get(relPath);
    if (stat === undefined) continue;
    if (entry.device !== undefined) lines.push(...deviceLines(relPath, entry));
    else lines.push(...inodeLines(relPath, entry, stat));

    for (const [name, value] of Object.entries(entry.xattrs)) {
      const valuePath = join(workDir, `xattr-${xattrFiles++}`);
      await writeFile(valuePath, value);
      lines.push(
        `ea_set -f ${quote(valuePath)} ${quote(`/${relPath}`)} ${quote(name)}`,
      );
    }
  }
  const scriptPath = join(workDir, 'fixups.debugfs');
  await writeFile(scriptPath, lines.map((line) => `${line}\n`).join(''));
  return { scriptPath, lines: lines.length };
}

function inodeLines(relPath: string, entry: EntryMeta, stat: Stats): string[] {
  const path = quote(`/${relPath}`);
  const lines: string[] = [];
  if (stat.uid !== entry.uid) lines.push(`sif ${path} uid ${entry.uid}`);
  if (stat.gid !== entry.gid) lines.push(`sif ${path} gid ${entry.gid}`);
  // Symlink permissions mean nothing on Linux; keep what mkfs wrote.
  if (stat.isSymbolicLink()) return lines;
  const mode = (stat.mode & ~0o7777) | entry.mode;
  if (stat.mode !== mode) lines.push(`sif ${path} mode 0${mode.toString(8)}`);
  return lines;
}

// debugfs mknod takes a bare name in the current directory.
function deviceLines(relPath: string, entry: EntryMeta): string[] {
  const device = entry.device!;
  const path = quote(`/${relPath}`);
  const numbers = device.kind === 'p' ? '' : ` ${device.major} ${device.minor}`;
  const mode = TYPE_BITS[device.kind] | entry.mode;
  return [
    `rm ${path}`,
    `cd ${quote(`/${parentOf(relPath)}`)}`,
    `mknod ${quote(baseOf(relPath))} ${device.kind}${numbers}`,
    'cd /',
    `sif ${path} mode 0${mode.toString(8)}`,
    `sif ${path} uid ${entry.uid}`,
    `sif ${path} gid ${entry.gid}`,
  ];
}

// debugfs's parser takes "…" with "" standing for a quote inside. It
// reads one command a line and runs a line that starts with `!` in a
// shell, so a control character here is a broken invariant, never input:
// the unpacker refuses such names before they get this far.
function quote(text: string): string {
  if ([...text].some((char) => char < ' ' || char === '\x7f')) {
    throw new Error(
      `control character in debugfs argument ${JSON.stringify(text)}`,
    );
  }
  return `"${text.replaceAll('"', '""')}"`;
}
