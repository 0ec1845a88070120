import { accessSync, constants, readFileSync } from 'node:fs';
import { AegisError } from '../../errors.ts';

export type Accelerator = 'kvm' | 'tcg';
export type AcceleratorChoice = Accelerator | 'auto';

export interface AcceleratorInfo {
  accel: Accelerator;
  /** Why this accelerator was chosen, for logs and `aegis doctor`. */
  reason: string;
  /** Host TSC frequency, which a TCG guest must be told (see below). */
  tscKhz: number | undefined;
}

/**
 * Chooses KVM where a guest can really run on it, TCG otherwise.
 *
 * A /dev/kvm alone is not enough: some hosts expose a software hypervisor
 * there (PVM) that cannot run a stock guest. Hardware virtualisation shows
 * as the vmx or svm CPU flag, so both must be present.
 */
export function detectAccelerator(
  choice: AcceleratorChoice = 'auto',
  cpuinfo = readCpuinfo(),
): AcceleratorInfo {
  const tscKhz = parseTscKhz(cpuinfo);
  const kvm = kvmUsable(cpuinfo);
  if (choice === 'kvm') {
    if (!kvm.ok) {
      throw new AegisError(
        'HOST_UNSUPPORTED',
        `KVM was asked for but ${kvm.reason}; use --accel tcg or auto`,
      );
    }
    return { accel: 'kvm', reason: 'asked for', tscKhz };
  }
  if (choice === 'tcg') return { accel: 'tcg', reason: 'asked for', tscKhz };
  if (kvm.ok) return { accel: 'kvm', reason: kvm.reason, tscKhz };
  return { accel: 'tcg', reason: kvm.reason, tscKhz };
}

export function parseAcceleratorChoice(raw: string): AcceleratorChoice {
  if (raw === 'auto' || raw === 'kvm' || raw === 'tcg') return raw;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `accelerator "${raw}" is not one of auto, kvm, tcg`,
  );
}

function kvmUsable(cpuinfo: string): { ok: boolean; reason: string } {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  if (!flags.includes('vmx') && !flags.includes('svm')) {
    return { ok: false, reason: 'the CPU has no vmx or svm flag' };
  }
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, reason: '/dev/kvm is missing or not accessible' };
  }
  return { ok: true, reason: 'hardware virtualisation and /dev/kvm present' };
}

/**
 * Under TCG the guest's TSC ticks at the host's rate, and the guest
 * kernel's own calibration against the emulated PIT hangs now and then.
 * Telling it the frequency (tsc_early_khz) skips that calibration.
 */
function parseTscKhz(cpuinfo: string): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([0-9.]+)$/m.exec(cpuinfo)?.[1];
  if (mhz === undefined) return undefined;
  return Math.round(Number(mhz) * 1000);
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}
