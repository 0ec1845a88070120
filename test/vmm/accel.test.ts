/** The accelerator choice, from /proc/cpuinfo texts of different hosts. */
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { describe, it } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import { detectAccelerator } from '../../src/vmm/qemu/accel.ts';

const PVM_HOST =
  'model name\t: AMD EPYC\ncpu MHz\t\t: 2596.130\nflags\t\t: fpu sse2 constant_tsc\n';
const VMX_HOST = 'cpu MHz\t\t: 3000.000\nflags\t\t: fpu vmx sse2\n';

describe('the accelerator choice', () => {
  it('picks TCG on a CPU without vmx or svm, whatever /dev/kvm is', () => {
    const info = detectAccelerator('auto', PVM_HOST);
    assert.equal(info.accel, 'tcg');
    assert.equal(info.reason, 'the CPU has no vmx or svm flag');
  });

  it('tells a TCG guest the host TSC frequency', () => {
    assert.equal(detectAccelerator('tcg', PVM_HOST).tscKhz, 2_596_130);
  });

  it('refuses KVM asked for on a CPU that cannot run it, naming the fix', () => {
    assert.throws(
      () => detectAccelerator('kvm', PVM_HOST),
      (error) =>
        isAegisError(error, 'HOST_UNSUPPORTED') &&
        /use --accel tcg or auto/.test(error.message),
    );
  });

  it('takes KVM on a vmx CPU only when /dev/kvm can be opened', () => {
    const info = detectAccelerator('auto', VMX_HOST);
    let usable = true;
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      usable = false;
    }
    assert.equal(info.accel, usable ? 'kvm' : 'tcg');
  });
});
