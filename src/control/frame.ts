/**
 * Framing of the control channel (docs/protocol.md, "Frames"): a 12-byte
 * header (magic, version, type, stream, length) and a bounded payload.
 */
import { AegisError } from '../errors.ts';

export const FRAME_HEADER_BYTES = 12;
export const MAX_PAYLOAD_BYTES = 65_536;
export const PROTOCOL_VERSION = 1;
const MAGIC_0 = 0xae;
const MAGIC_1 = 0x61;

export const MessageType = {
  HELLO_REQ: 0x01,
  START: 0x02,
  EXEC: 0x03,
  STDIN: 0x04,
  RESIZE: 0x05,
  SIGNAL: 0x06,
  SET_CLOCK: 0x07,
  SHUTDOWN: 0x08,
  PING: 0x09,
  HELLO: 0x81,
  LOG: 0x82,
  STARTED: 0x83,
  STDOUT: 0x84,
  STDERR: 0x85,
  EXIT: 0x86,
  ERROR: 0x87,
  ACK: 0x88,
  WINDOW: 0x89,
  LEASE: 0x8a,
} as const;

export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

const GUEST_TYPES = new Set<number>([
  MessageType.HELLO,
  MessageType.LOG,
  MessageType.STARTED,
  MessageType.STDOUT,
  MessageType.STDERR,
  MessageType.EXIT,
  MessageType.ERROR,
  MessageType.ACK,
  MessageType.WINDOW,
  MessageType.LEASE,
]);

export interface Frame {
  type: number;
  stream: number;
  payload: Buffer;
}

export function encodeFrame(
  type: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new AegisError(
      'INTERNAL',
      `frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`,
    );
  }
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header[0] = MAGIC_0;
  header[1] = MAGIC_1;
  header[2] = PROTOCOL_VERSION;
  header[3] = type;
  header.writeUInt32BE(stream, 4);
  header.writeUInt32BE(payload.length, 8);
  return Buffer.concat([header, payload]);
}

function protocolError(message: string): AegisError {
  return new AegisError('GUEST_PROTOCOL', message);
}

/**
 * Turns the guest's byte stream into frames. It holds at most one frame's
 * worth of bytes, so a guest cannot make the host buffer without bound.
 *
 * Until `synced`, it discards bytes up to the first valid HELLO header:
 * what the guest wrote while the host was away may arrive cut in half.
 */
export class FrameDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  #synced = false;
  discardedBytes = 0;

  /** Forget buffered bytes and wait for the next HELLO again. */
  resync(): void {
    this.#buffer = Buffer.alloc(0);
    this.#synced = false;
  }

  /** Appends bytes and returns the complete frames; throws on garbage. */
  push(chunk: Buffer): Frame[] {
    this.#buffer =
      this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Frame[] = [];
    if (!this.#synced && !this.#seekHello()) return frames;
    for (;;) {
      const frame = this.#next();
      if (frame === undefined) return frames;
      frames.push(frame);
    }
  }

  #seekHello(): boolean {
    const buffer = this.#buffer;
    for (let at = 0; at + FRAME_HEADER_BYTES <= buffer.length; at++) {
      if (isHelloHeader(buffer, at)) {
        this.discardedBytes += at;
        this.#buffer = buffer.subarray(at);
        this.#synced = true;
        return true;
      }
    }
    // Keep a tail that may be the start of a header.
    const keep = Math.min(buffer.length, FRAME_HEADER_BYTES - 1);
    this.discardedBytes += buffer.length - keep;
    this.#buffer = buffer.subarray(buffer.length - keep);
    return false;
  }

  #next(): Frame | undefined {
    const buffer = this.#buffer;
    if (buffer.length < FRAME_HEADER_BYTES) return undefined;
    const { type, stream, length } = parseHeader(buffer, 0);
    const end = FRAME_HEADER_BYTES + length;
    if (buffer.length < end) return undefined;
    const payload = Buffer.from(buffer.subarray(FRAME_HEADER_BYTES, end));
    this.#buffer = buffer.subarray(end);
    return { type, stream, payload };
  }
}

function isHelloHeader(buffer: Buffer, at: number): boolean {
  return (
    buffer[at] === MAGIC_0 &&
    buffer[at + 1] === MAGIC_1 &&
    buffer[at + 2] === PROTOCOL_VERSION &&
    buffer[at + 3] === MessageType.HELLO &&
    buffer.readUInt32BE(at + 4) === 0 &&
    buffer.readUInt32BE(at + 8) <= MAX_PAYLOAD_BYTES
  );
}

function parseHeader(buffer: Buffer, at: number) {
  if (buffer[at] !== MAGIC_0 || buffer[at + 1] !== MAGIC_1) {
    throw protocolError('bad frame magic from the guest');
  }
  if (buffer[at + 2] !== PROTOCOL_VERSION) {
    throw protocolError(`unsupported protocol version ${buffer[at + 2]}`);
  }
  const type = buffer[at + 3]!;
  if (!GUEST_TYPES.has(type)) {
    throw protocolError(`unknown frame type 0x${type.toString(16)}`);
  }
  const stream = buffer.readUInt32BE(at + 4);
  const length = buffer.readUInt32BE(at + 8);
  if (length > MAX_PAYLOAD_BYTES) {
    throw protocolError(`frame of ${length} bytes exceeds the limit`);
  }
  return { type, stream, length };
}
