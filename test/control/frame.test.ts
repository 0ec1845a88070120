import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FieldWriter, Tag } from '../../src/control/fields.ts';
import {
  encodeFrame,
  FrameDecoder,
  MAX_PAYLOAD_BYTES,
  MessageType,
} from '../../src/control/frame.ts';
import { parseGuestMessage } from '../../src/control/messages.ts';

const hello = encodeFrame(
  MessageType.HELLO,
  0,
  new FieldWriter()
    .string(Tag.agentVersion, '1.0.0')
    .integer(Tag.protocol, 1)
    .toBuffer(),
);

function log(line: string): Buffer {
  return encodeFrame(
    MessageType.LOG,
    0,
    Buffer.concat([Buffer.from([1, 0]), Buffer.from(line)]),
  );
}

describe('FrameDecoder', () => {
  it('skips a cut-off frame before the first HELLO', () => {
    const decoder = new FrameDecoder();
    const cut = log('lost in transit').subarray(5);
    const frames = decoder.push(Buffer.concat([cut, hello, log('kept')]));
    assert.deepEqual(
      frames.map((frame) => frame.type),
      [MessageType.HELLO, MessageType.LOG],
    );
    assert.equal(decoder.discardedBytes, cut.length);
  });

  it('reassembles frames split at every byte', () => {
    const decoder = new FrameDecoder();
    const stream = Buffer.concat([hello, log('a'), log('bb')]);
    const frames = [];
    for (const byte of stream)
      frames.push(...decoder.push(Buffer.from([byte])));
    assert.equal(frames.length, 3);
    const message = parseGuestMessage(frames[2]!);
    assert.equal(message.kind, 'log');
    assert.equal(message.kind === 'log' && message.line.toString(), 'bb');
  });

  it('rejects a frame longer than the limit before buffering it', () => {
    const decoder = new FrameDecoder();
    decoder.push(hello);
    const header = log('').subarray(0, 12);
    header.writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 8);
    assert.throws(() => decoder.push(header), { code: 'GUEST_PROTOCOL' });
  });

  it('rejects unknown types and bad magic after the HELLO', () => {
    for (const corrupt of [
      encodeFrame(0x42, 0),
      Buffer.from('not a frame at all'),
    ]) {
      const decoder = new FrameDecoder();
      decoder.push(hello);
      assert.throws(() => decoder.push(corrupt), { code: 'GUEST_PROTOCOL' });
    }
  });

  it('survives random input without throwing anything but protocol errors', () => {
    for (let round = 0; round < 200; round++) {
      const decoder = new FrameDecoder();
      try {
        for (const frame of decoder.push(
          Buffer.concat([hello, randomBytes(512)]),
        )) {
          parseGuestMessage(frame);
        }
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'GUEST_PROTOCOL');
      }
    }
  });
});

describe('guest messages', () => {
  it('refuses fields that run past their frame', () => {
    const payload = Buffer.from([Tag.protocol, 0xff, 0xff, 0xff, 0xff]);
    const frame = { type: MessageType.HELLO, stream: 0, payload };
    assert.throws(() => parseGuestMessage(frame), /runs past the end/);
  });

  it('refuses out-of-range values', () => {
    const payload = new FieldWriter().integer(Tag.exitCode, 300).toBuffer();
    const frame = { type: MessageType.EXIT, stream: 1, payload };
    assert.throws(() => parseGuestMessage(frame), /out of range/);
  });

  it('reads an exit by signal', () => {
    const payload = new FieldWriter().integer(Tag.signal, 9).toBuffer();
    const frame = { type: MessageType.EXIT, stream: 4, payload };
    assert.deepEqual(parseGuestMessage(frame), {
      kind: 'exit',
      stream: 4,
      status: { signal: 9 },
    });
  });
});
