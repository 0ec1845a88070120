/**
 * The VMM backend interface. A backend boots a guest from a kernel, the
 * agent's initramfs and a set of disks; forwards fixed guest ports to the
 * host; pauses, snapshots, restores and stops it. Port forwards are part
 * of the spec given at boot and there is no way to add one later.
 */
import type { ControlChannel } from '../control/channel.ts';
import type { Logger } from '../log.ts';
import type { AcceleratorChoice } from './qemu/accel.ts';

export interface DiskSpec {
  path: string;
  readOnly: boolean;
}

export interface PortForward {
  guestPort: number;
  /** Port on 127.0.0.1 where the VMM listens; 0 picks a free one. */
  hostPort: number;
}

export interface VmSpec {
  /** The instance id, carried on every log line. */
  id: string;
  /** Where the VM keeps its sockets, memory file, logs and snapshot. */
  runDir: string;
  kernelPath: string;
  initrdPath: string;
  /** Extra kernel command-line words (for example `aegis.debug=1`). */
  kernelArgs?: string[];
  memoryMib: number;
  cpus: number;
  /** The image disk first (mounted read-only), then the instance's layer. */
  disks: DiskSpec[];
  forwards: PortForward[];
  accel?: AcceleratorChoice;
  /**
   * Boot with ACPI, for stock kernels that find virtio-mmio devices only
   * through ACPI tables (Debian's). The project's kernel boots without.
   */
  acpi?: boolean;
}

export interface VmExit {
  /** QEMU's exit status; 0 also when the guest powered itself off. */
  code: number | null;
  signal: NodeJS.Signals | null;
  at: Date;
}

export interface SnapshotInfo {
  /** Device state; guest memory stays in the VM's memory file. */
  statePath: string;
  stateBytes: number;
  durationMs: number;
}

export type VmState = 'running' | 'paused' | 'exited';

export interface Vm {
  readonly spec: VmSpec;
  /** The forwards with the host ports actually bound. */
  readonly forwards: readonly PortForward[];
  readonly pid: number;
  readonly channel: ControlChannel;
  readonly state: VmState;
  /** Settles when the VMM process exits, for whatever reason. */
  readonly exited: Promise<VmExit>;
  pause(): Promise<void>;
  /** Runs the vCPUs again and sets the guest clock. */
  resume(): Promise<void>;
  /**
   * Pauses and writes the device state next to the memory file. The VM
   * stays paused; resuming it makes the snapshot stale (and removes it).
   */
  snapshot(): Promise<SnapshotInfo>;
  /** Asks the guest to power off, and kills the VMM after timeoutMs. */
  stop(timeoutMs: number): Promise<VmExit>;
  kill(): Promise<VmExit>;
}

export interface VmmBackend {
  readonly name: string;
  boot(spec: VmSpec, log?: Logger): Promise<Vm>;
  /**
   * Starts a new VMM from the snapshot in spec.runDir, running. onSpawned
   * sees the VM before its guest runs, to miss none of its events.
   */
  restore(
    spec: VmSpec,
    log?: Logger,
    onSpawned?: (vm: Vm) => void,
  ): Promise<Vm>;
  /** Takes over a VMM that an earlier process started (by its pid). */
  attach(spec: VmSpec, pid: number, log?: Logger): Promise<Vm>;
}
