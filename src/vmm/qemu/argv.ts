import path from 'node:path';
import type { PortForward, VmSpec } from '../backend.ts';
import type { AcceleratorInfo } from './accel.ts';

/** Files QEMU creates or uses inside a VM's run directory. */
export function runPaths(runDir: string) {
  return {
    qmpSocket: path.join(runDir, 'qmp.sock'),
    controlSocket: path.join(runDir, 'ctl.sock'),
    memory: path.join(runDir, 'memory'),
    state: path.join(runDir, 'state'),
    console: path.join(runDir, 'console.log'),
    vmmLog: path.join(runDir, 'vmm.log'),
  };
}

export interface QemuArgs {
  spec: VmSpec;
  forwards: readonly PortForward[];
  accel: AcceleratorInfo;
  /** Restore from the state file instead of booting. */
  incoming: boolean;
}

export function buildQemuArgs({
  spec,
  forwards,
  accel,
  incoming,
}: QemuArgs): string[] {
  const paths = runPaths(spec.runDir);
  const memory = `${spec.memoryMib}M`;
  return [
    ...['-name', `aegis-${spec.id}`],
    // ACPI off: the guest kernel finds virtio-mmio devices on its command
    // line (QEMU appends them) and boots faster without ACPI tables.
    ...['-M', `microvm,acpi=${spec.acpi ? 'on' : 'off'},memory-backend=mem`],
    ...accelArgs(accel),
    ...['-m', memory, '-smp', String(spec.cpus)],
    // Guest RAM in a shared file: a snapshot then writes device state only
    // (see IGNORE_SHARED) and a restore maps the same file again.
    ...[
      '-object',
      `memory-backend-file,id=mem,size=${memory},mem-path=${paths.memory},share=on`,
    ],
    ...['-nodefaults', '-no-user-config', '-nographic', '-no-reboot'],
    ...['-kernel', spec.kernelPath, '-initrd', spec.initrdPath],
    ...['-append', kernelCommandLine(spec, accel)],
    ...['-serial', `file:${paths.console}`],
    ...diskArgs(spec),
    ...netArgs(forwards),
    ...[
      '-chardev',
      `socket,id=ctl,path=${paths.controlSocket},server=on,wait=off`,
      ...['-device', 'virtio-serial-device'],
      ...['-device', 'virtserialport,chardev=ctl,name=aegis.ctl'],
    ],
    ...['-qmp', `unix:${paths.qmpSocket},server=on,wait=off`],
    ...(incoming ? ['-incoming', 'defer'] : []),
  ];
}

function accelArgs(accel: AcceleratorInfo): string[] {
  if (accel.accel === 'kvm') return ['-accel', 'kvm', '-cpu', 'host'];
  return ['-accel', 'tcg', '-cpu', 'max'];
}

function kernelCommandLine(spec: VmSpec, accel: AcceleratorInfo): string {
  const words = ['console=ttyS0', 'quiet'];
  // Skips calibrating the local APIC timer, slow under TCG; without ACPI
  // the PIT then drives the clock (with ACPI there would be none).
  if (!spec.acpi) words.push('acpi=off', 'noapictimer');
  // Skips checking that the timer interrupt arrives through the IO-APIC,
  // which waits out several ticks: about 90 ms of a 670 ms boot to hello
  // under TCG. QEMU's timer is known to work.
  words.push('no_timer_check');
  // A kernel panic (for instance a crashed agent) powers the VM off, and
  // the restart path goes straight to the triple fault that makes QEMU
  // (with -no-reboot) exit, instead of probing a keyboard controller that
  // microvm lacks.
  words.push('panic=-1', 'reboot=t');
  if (accel.accel === 'tcg' && accel.tscKhz !== undefined) {
    words.push(`tsc_early_khz=${accel.tscKhz}`, 'tsc=reliable');
  }
  return [...words, ...(spec.kernelArgs ?? [])].join(' ');
}

function diskArgs(spec: VmSpec): string[] {
  return spec.disks.flatMap((disk, index) => [
    '-drive',
    [
      `id=disk${index}`,
      `file=${disk.path}`,
      'format=raw',
      'if=none',
      disk.readOnly ? 'readonly=on' : 'cache=writeback',
    ].join(','),
    '-device',
    `virtio-blk-device,drive=disk${index}`,
  ]);
}

/**
 * User-mode networking with restrict=on: forwarded ports work, but no
 * connection the guest opens gets out, so it cannot reach the host's
 * loopback services (nor anything else: there is no egress).
 */
function netArgs(forwards: readonly PortForward[]): string[] {
  const options = ['user', 'id=net0', 'restrict=on'];
  for (const forward of forwards) {
    options.push(
      `hostfwd=tcp:127.0.0.1:${forward.hostPort}-:${forward.guestPort}`,
    );
  }
  return [
    ...['-netdev', options.join(',')],
    ...['-device', 'virtio-net-device,netdev=net0'],
  ];
}
