import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { demoImage } from '../../src/guest/artifacts.ts';
import { bootVm, execIn, httpGet, type TestVm } from '../helpers/guest.ts';

describe('two VMs of the same image', () => {
  const guests: TestVm[] = [];

  after(async () => {
    await Promise.all(guests.map((guest) => guest.dispose()));
  });

  it('run at once on one read-only disk, each with its own layer', async () => {
    const image = demoImage().diskPath;
    const digestBefore = sha256(image);
    guests.push(...(await Promise.all([bootVm(), bootVm()])));
    const [first, second] = guests as [TestVm, TestVm];

    assert.equal(first.spec.disks[0]!.path, image);
    assert.equal(second.spec.disks[0]!.path, image);
    assert.equal((await httpGet(first.port)).status, 200);
    assert.equal((await httpGet(second.port)).status, 200);

    await execIn(first.vm, ['sh', '-c', 'echo first > /www/whoami.txt']);
    await execIn(second.vm, ['sh', '-c', 'echo second > /www/whoami.txt']);
    assert.equal((await httpGet(first.port, '/whoami.txt')).body, 'first\n');
    assert.equal((await httpGet(second.port, '/whoami.txt')).body, 'second\n');

    // Both VMMs have the image file itself open, not a copy of it.
    for (const guest of guests) {
      assert.ok(openFiles(guest.vm.pid).includes(image), 'a copy is used');
    }
    // Each layer holds only what its guest wrote, not a copy of the image.
    for (const guest of guests) {
      const layer = guest.spec.disks[1]!.path;
      const allocatedBytes = statSync(layer).blocks * 512;
      assert.ok(allocatedBytes < statSync(image).size, `${layer} copies`);
    }
    assert.equal(sha256(image), digestBefore, 'the image disk was written');
  });
});

function openFiles(pid: number): string[] {
  const fdDir = `/proc/${pid}/fd`;
  return readdirSync(fdDir).map((fd) => readlinkSync(`${fdDir}/${fd}`));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
