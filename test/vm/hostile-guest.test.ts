/**
 * A guest whose PID 1 is not the agent but a script that writes garbage,
 * oversized frames and malformed fields on the control channel: the host
 * side must count protocol errors, reconnect, and stay up.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeCpio } from '../../src/guest/cpio.ts';
import { backend, log, makeSpec } from '../helpers/guest.ts';

// Octal escapes, for busybox printf. A HELLO with one valid field
// (protocol = 1), then a LOG header announcing a 2 GiB payload.
const HELLO =
  '\\256\\141\\001\\201\\000\\000\\000\\000\\000\\000\\000\\015' +
  '\\021\\000\\000\\000\\010\\000\\000\\000\\000\\000\\000\\000\\001';
const OVERSIZED_LOG =
  '\\256\\141\\001\\202\\000\\000\\000\\000\\177\\377\\377\\377';
// A HELLO whose field claims to run past the end of the frame.
const BAD_FIELD =
  '\\256\\141\\001\\201\\000\\000\\000\\000\\000\\000\\000\\005' +
  '\\021\\377\\377\\377\\377';

const hostileInit = `#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mount -t sysfs sys /sys
for p in /sys/class/virtio-ports/*; do
  [ "$(/bin/busybox cat $p/name)" = aegis.ctl ] && port=/dev/\${p##*/}
done
exec 3<>$port
while true; do
  /bin/busybox head -c 70000 /dev/urandom >&3
  /bin/busybox printf '${HELLO}' >&3
  /bin/busybox printf '${OVERSIZED_LOG}' >&3
  /bin/busybox head -c 1000 /dev/zero >&3
  /bin/busybox printf '${HELLO}${BAD_FIELD}' >&3
  /bin/busybox sleep 0.2
done
`;

describe('a guest that writes garbage on the control channel', () => {
  let dispose: (() => Promise<void>) | undefined;

  after(async () => {
    await dispose?.();
  });

  it('does not take the host side down', async () => {
    const { dir, spec } = await makeSpec();
    spec.initrdPath = path.join(dir, 'hostile.img');
    writeFileSync(spec.initrdPath, hostileInitrd());
    const vm = await backend.boot(spec, log);
    dispose = async () => {
      await vm.kill();
    };
    let hellos = 0;
    const errors: string[] = [];
    vm.channel.on('hello', () => hellos++);
    vm.channel.on('protocol-error', (error) => errors.push(error.message));
    const rssBefore = process.memoryUsage().rss;

    const deadline = Date.now() + 60_000;
    while (errors.length < 6 && Date.now() < deadline) await sleep(100);

    assert.ok(errors.length >= 6, `only ${errors.length} protocol errors`);
    assert.ok(hellos >= 1, 'the valid HELLO between the garbage was lost');
    assert.ok(errors.some((message) => /exceeds the limit/.test(message)));
    assert.ok(errors.some((message) => /runs past the end/.test(message)));
    const grownMib = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.ok(grownMib < 64, `host memory grew by ${grownMib} MiB`);
    assert.equal(vm.state, 'running');
    // No agent answers: the request fails cleanly instead of hanging.
    await assert.rejects(vm.channel.ping(500), (error: { code?: string }) =>
      ['TIMEOUT', 'GUEST_DISCONNECTED'].includes(error.code ?? ''),
    );
    assert.equal((await vm.kill()).signal, 'SIGKILL');
  });
});

function hostileInitrd(): Buffer {
  return writeCpio([
    { kind: 'dir', path: 'dev', mode: 0o755 },
    { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { kind: 'dir', path: 'sys', mode: 0o755 },
    { kind: 'dir', path: 'bin', mode: 0o755 },
    {
      kind: 'file',
      path: 'bin/busybox',
      mode: 0o755,
      data: readFileSync('/bin/busybox'),
    },
    { kind: 'file', path: 'init', mode: 0o755, data: Buffer.from(hostileInit) },
  ]);
}
