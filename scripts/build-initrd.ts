/**
 * Packs the guest agent into the initramfs every VM boots:
 * /init (the agent), the mount points it uses, and /dev/console.
 *
 * Usage: node scripts/build-initrd.ts AGENT_BINARY OUTPUT
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { type CpioEntry, writeCpio } from '../src/guest/cpio.ts';

const [agentPath, outputPath] = process.argv.slice(2);
if (agentPath === undefined || outputPath === undefined) {
  process.stderr.write('usage: build-initrd.ts AGENT_BINARY OUTPUT\n');
  process.exit(2);
}

const entries: CpioEntry[] = [
  { kind: 'dir', path: 'dev', mode: 0o755 },
  { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  { kind: 'dir', path: 'proc', mode: 0o755 },
  { kind: 'dir', path: 'sys', mode: 0o755 },
  { kind: 'dir', path: 'aegis', mode: 0o755 },
  { kind: 'file', path: 'init', mode: 0o755, data: readFileSync(agentPath) },
];
writeFileSync(`${outputPath}.tmp`, writeCpio(entries));
renameSync(`${outputPath}.tmp`, outputPath);
