import { existsSync } from 'node:fs';
import { AegisError } from '../errors.ts';
import type { VmSpec } from './backend.ts';
import { runPaths } from './qemu/argv.ts';

export const MIN_MEMORY_MIB = 64;
export const MAX_MEMORY_MIB = 65_536;
export const MAX_CPUS = 16;

/** A unix socket path longer than this cannot be bound on Linux. */
const MAX_SOCKET_PATH_BYTES = 107;

/** Checks a VM spec before anything is started or created. */
export function validateVmSpec(spec: VmSpec): void {
  checkInteger('memory', spec.memoryMib, MIN_MEMORY_MIB, MAX_MEMORY_MIB, 'MiB');
  checkInteger('cpus', spec.cpus, 1, MAX_CPUS, 'vCPUs');
  for (const forward of spec.forwards) {
    checkInteger('guest port', forward.guestPort, 1, 65_535, '');
    checkInteger('host port', forward.hostPort, 0, 65_535, '');
  }
  const guestPorts = spec.forwards.map((forward) => forward.guestPort);
  if (new Set(guestPorts).size !== guestPorts.length) {
    throw invalid(`guest ports ${guestPorts.join(', ')} repeat a port`);
  }
  checkFile('guest kernel', spec.kernelPath);
  checkFile('guest initramfs', spec.initrdPath);
  for (const disk of spec.disks) checkFile('disk', disk.path);
  const socket = runPaths(spec.runDir).controlSocket;
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw invalid(
      `run directory ${spec.runDir} is too long for unix sockets; ` +
        'use a shorter AEGIS_HOME',
    );
  }
}

function checkInteger(
  what: string,
  value: number,
  min: number,
  max: number,
  unit: string,
): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = `${min} to ${max}${unit === '' ? '' : ` ${unit}`}`;
    throw invalid(`${what} ${value} is out of range; use ${range}`);
  }
}

function checkFile(what: string, path: string): void {
  if (!existsSync(path)) {
    throw new AegisError(
      'ARTIFACT_MISSING',
      `${what} ${path} does not exist; run \`bash scripts/setup.sh\``,
    );
  }
}

function invalid(message: string): AegisError {
  return new AegisError('INVALID_ARGUMENT', message);
}
