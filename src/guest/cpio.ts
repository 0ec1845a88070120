/**
 * Writes cpio archives in the "newc" format the Linux kernel unpacks as
 * its initramfs (Documentation/driver-api/early-userspace/buffer-format).
 * Written here rather than with cpio(1) so that an unprivileged user can
 * add the /dev/console device node the kernel opens before running init.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'char'; path: string; mode: number; major: number; minor: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, char: 0o020000 } as const;
const TRAILER = 'TRAILER!!!';

export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let inode = 1;
  for (const entry of entries) parts.push(encodeEntry(entry, inode++));
  parts.push(encodeRecord({ name: TRAILER, inode: 0, mode: 0, data: empty }));
  const archive = Buffer.concat(parts);
  return Buffer.concat([archive, Buffer.alloc(padTo(archive.length, 512))]);
}

const empty = Buffer.alloc(0);

function encodeEntry(entry: CpioEntry, inode: number): Buffer {
  const mode = TYPE_BITS[entry.kind] | (entry.mode & 0o7777);
  const name = entry.path.replace(/^\/+/, '');
  if (entry.kind === 'char') {
    return encodeRecord({
      name,
      inode,
      mode,
      data: empty,
      rdevMajor: entry.major,
      rdevMinor: entry.minor,
    });
  }
  const data = entry.kind === 'file' ? entry.data : empty;
  return encodeRecord({ name, inode, mode, data });
}

interface Record {
  name: string;
  inode: number;
  mode: number;
  data: Buffer;
  rdevMajor?: number;
  rdevMinor?: number;
}

function encodeRecord(record: Record): Buffer {
  const name = Buffer.from(`${record.name}\0`, 'utf8');
  const fields = [
    record.inode,
    record.mode,
    0, // uid
    0, // gid
    1, // nlink
    0, // mtime: fixed, so that the archive is reproducible
    record.data.length,
    0, // dev major
    0, // dev minor
    record.rdevMajor ?? 0,
    record.rdevMinor ?? 0,
    name.length,
    0, // check
  ];
  const header = `070701${fields.map(hex8).join('')}`;
  const headerAndName = Buffer.concat([Buffer.from(header, 'ascii'), name]);
  return Buffer.concat([
    headerAndName,
    Buffer.alloc(padTo(headerAndName.length, 4)),
    record.data,
    Buffer.alloc(padTo(record.data.length, 4)),
  ]);
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function padTo(length: number, alignment: number): number {
  return (alignment - (length % alignment)) % alignment;
}
