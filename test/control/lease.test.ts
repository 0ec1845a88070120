import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlChannel } from '../../src/control/channel.ts';
import { FieldWriter, Tag } from '../../src/control/fields.ts';
import { encodeFrame, MessageType } from '../../src/control/frame.ts';
import { MAX_HOLD_MS, parseGuestMessage } from '../../src/control/messages.ts';

function leaseFrame(holdMs: number, stream = 0) {
  const payload = new FieldWriter().integer(Tag.holdMs, holdMs).toBuffer();
  return { type: MessageType.LEASE, stream, payload };
}

function helloPayload(holdMs?: number): Buffer {
  const writer = new FieldWriter()
    .string(Tag.agentVersion, '1.0.0')
    .integer(Tag.protocol, 1);
  if (holdMs !== undefined) writer.integer(Tag.holdMs, holdMs);
  return writer.toBuffer();
}

describe('LEASE messages', () => {
  it('read the hold in milliseconds', () => {
    assert.deepEqual(parseGuestMessage(leaseFrame(5_000)), {
      kind: 'lease',
      holdMs: 5_000,
    });
  });

  it('accept 0, which releases every lease, and the one-day maximum', () => {
    for (const holdMs of [0, MAX_HOLD_MS]) {
      const message = parseGuestMessage(leaseFrame(holdMs));
      assert.equal(message.kind === 'lease' && message.holdMs, holdMs);
    }
  });

  it('refuse a hold below 0 or above one day', () => {
    for (const holdMs of [-1, MAX_HOLD_MS + 1]) {
      assert.throws(() => parseGuestMessage(leaseFrame(holdMs)), {
        code: 'GUEST_PROTOCOL',
        message: /out of range/,
      });
    }
  });

  it('refuse a missing hold and a stream other than 0', () => {
    const empty = { ...leaseFrame(0), payload: Buffer.alloc(0) };
    assert.throws(() => parseGuestMessage(empty), /required field/);
    assert.throws(() => parseGuestMessage(leaseFrame(1_000, 3)), /stream 3/);
  });

  it('refuse a hold that is not an 8-byte integer', () => {
    const payload = Buffer.from([Tag.holdMs, 0, 0, 0, 1, 7]);
    const frame = { type: MessageType.LEASE, stream: 0, payload };
    assert.throws(() => parseGuestMessage(frame), /8-byte integer/);
  });
});

describe('HELLO messages', () => {
  it('carry the current hold', () => {
    const frame = {
      type: MessageType.HELLO,
      stream: 0,
      payload: helloPayload(42_000),
    };
    const message = parseGuestMessage(frame);
    assert.equal(message.kind === 'hello' && message.holdMs, 42_000);
  });

  it('leave the hold undefined when an older agent omits it', () => {
    const frame = {
      type: MessageType.HELLO,
      stream: 0,
      payload: helloPayload(),
    };
    const message = parseGuestMessage(frame);
    assert.equal(message.kind, 'hello');
    assert.equal(message.kind === 'hello' && message.holdMs, undefined);
  });

  it('refuse an out-of-range hold', () => {
    const frame = {
      type: MessageType.HELLO,
      stream: 0,
      payload: helloPayload(MAX_HOLD_MS + 1),
    };
    assert.throws(() => parseGuestMessage(frame), /out of range/);
  });
});

describe('a control channel', () => {
  let dir: string;
  let server: net.Server;
  let channel: ControlChannel;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aegis-lease-'));
    const socketPath = path.join(dir, 'ctl.sock');
    // A fake agent: answers HELLO_REQ with HELLO, then holds a lease.
    server = net.createServer((socket) => {
      socket.once('data', () => {
        socket.write(encodeFrame(MessageType.HELLO, 0, helloPayload(0)));
        const lease = leaseFrame(300_000);
        socket.write(encodeFrame(lease.type, 0, lease.payload));
      });
    });
    server.listen(socketPath);
    await once(server, 'listening');
    channel = new ControlChannel(socketPath);
  });

  after(async () => {
    channel.close();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('emits the hold of a LEASE frame as a lease event', async () => {
    const leased = once(channel, 'lease');
    const hello = await channel.waitForHello(5_000);
    assert.equal(hello.holdMs, 0);
    assert.deepEqual(await leased, [300_000]);
  });
});
