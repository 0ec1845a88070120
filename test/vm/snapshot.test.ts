import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  backend,
  bootVm,
  execIn,
  guestClockSkewS,
  httpGet,
  log,
  type TestVm,
} from '../helpers/guest.ts';

describe('snapshot and restore', () => {
  let guest: TestVm | undefined;

  after(async () => {
    await guest?.dispose();
  });

  it('brings back the same guest after the VMM was killed', async () => {
    guest = await bootVm();
    const before = await httpGet(guest.port);
    assert.equal(before.status, 200);
    // Memory the workload wrote must come back: keep a marker in tmpfs.
    await execIn(guest.vm, ['sh', '-c', 'echo kept > /dev/shm/marker']);

    const snapshot = await guest.vm.snapshot();
    // Device state only: the RAM stays in its file (128 MiB here).
    assert.ok(snapshot.stateBytes > 0);
    assert.ok(snapshot.stateBytes < 1024 * 1024, `${snapshot.stateBytes} B`);
    const exit = await guest.vm.kill();
    assert.equal(exit.signal, 'SIGKILL');
    // The guest clock stands still while saved; restore must correct it.
    await sleep(2_500);

    // The same host ports as before, as a caller that routes to them would.
    const spec = { ...guest.spec, forwards: [...guest.vm.forwards] };
    const restored = await backend.restore(spec, log);
    const dispose = guest.dispose;
    guest = {
      ...guest,
      vm: restored,
      dispose: async () => {
        await restored.kill();
        await dispose();
      },
    };
    const after = await httpGet(guest.port);
    assert.equal(after.status, 200);
    assert.equal(after.body, before.body);
    const marker = await execIn(restored, ['cat', '/dev/shm/marker']);
    assert.equal(marker.stdout, 'kept\n');
    const skewS = await guestClockSkewS(restored);
    assert.ok(skewS <= 1, `guest clock is ${skewS} s off`);
    assert.equal(existsSync(snapshot.statePath), false, 'stale state kept');
  });

  it('reports a kill -9 of QEMU with its status', async () => {
    assert.ok(guest !== undefined);
    process.kill(guest.vm.pid, 'SIGKILL');
    const exit = await guest.vm.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(guest.vm.state, 'exited');
    await assert.rejects(guest.vm.pause(), { code: 'VMM_EXITED' });
  });
});
