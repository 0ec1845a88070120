import { execFileSync } from 'node:child_process';
import { Command } from 'commander';
import { guestArtifacts } from '../guest/artifacts.ts';
import { detectAccelerator } from '../vmm/qemu/accel.ts';
import { QEMU_BINARY } from '../vmm/qemu/process.ts';

/** Says what this host offers Aegis, and what is missing. */
export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check the host: accelerator, QEMU, guest artifacts')
    .action(() => {
      const accel = detectAccelerator('auto');
      const lines = [
        `accelerator  ${accel.accel} (${accel.reason})`,
        `qemu         ${qemuVersion()}`,
        `guest        ${artifactsStatus()}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

function qemuVersion(): string {
  try {
    const text = execFileSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' });
    return text.split('\n')[0] ?? 'unknown';
  } catch {
    return `missing (${QEMU_BINARY}); run \`bash scripts/setup.sh\``;
  }
}

function artifactsStatus(): string {
  try {
    const { kernelPath } = guestArtifacts();
    return `built (${kernelPath})`;
  } catch (error) {
    return (error as Error).message;
  }
}
