/**
 * The framing of an exec stream, after `POST /v1/instances/{ref}/exec`
 * is upgraded (`Upgrade: aegis-exec`). Each frame is a 1-byte type, a
 * 4-byte big-endian payload length, then the payload (at most 64 KiB).
 * docs/api.md describes each type; either side closes the connection on
 * a frame it does not understand.
 */
import { AegisError } from '../../errors.ts';

export const EXEC_UPGRADE = 'aegis-exec';
export const MAX_FRAME_PAYLOAD = 64 * 1024;
const HEADER_BYTES = 5;

export const FrameType = {
  /** Client → daemon: input bytes; an empty payload closes stdin. */
  STDIN: 0,
  /** Daemon → client: output bytes (all output, with a terminal). */
  STDOUT: 1,
  STDERR: 2,
  /** Daemon → client, last: JSON `{"exitCode": n}` or `{"signal": n}`. */
  EXIT: 3,
  /** Client → daemon: rows and columns, two big-endian uint16. */
  RESIZE: 4,
  /** Client → daemon: a signal number, one byte. */
  SIGNAL: 5,
  /** Daemon → client, last: JSON `{"code", "message"}`. */
  ERROR: 6,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface ExecFrame {
  type: FrameType;
  payload: Buffer;
}

export function encodeFrame(type: FrameType, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new AegisError(
      'INTERNAL',
      `exec frame of ${payload.length} bytes is over ${MAX_FRAME_PAYLOAD}`,
    );
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** Splits data into as many frames as the payload limit needs. */
export function encodeData(type: FrameType, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_FRAME_PAYLOAD) {
    frames.push(encodeFrame(type, data.subarray(at, at + MAX_FRAME_PAYLOAD)));
  }
  return frames;
}

export function encodeResize(rows: number, cols: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(rows, 0);
  payload.writeUInt16BE(cols, 2);
  return encodeFrame(FrameType.RESIZE, payload);
}

export function encodeJson(type: FrameType, value: unknown): Buffer {
  return encodeFrame(type, Buffer.from(JSON.stringify(value)));
}

/** Reassembles frames from a byte stream; bounded by one frame. */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ExecFrame[] {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    const frames: ExecFrame[] = [];
    while (this.#pending.length >= HEADER_BYTES) {
      const type = this.#pending.readUInt8(0);
      const size = this.#pending.readUInt32BE(1);
      if (!isFrameType(type) || size > MAX_FRAME_PAYLOAD) {
        throw new AegisError(
          'INVALID_ARGUMENT',
          `malformed exec frame (type ${type}, ${size} bytes); payloads ` +
            `are at most ${MAX_FRAME_PAYLOAD} bytes and types 0-6`,
        );
      }
      if (this.#pending.length < HEADER_BYTES + size) break;
      const payload = this.#pending.subarray(HEADER_BYTES, HEADER_BYTES + size);
      frames.push({ type, payload: Buffer.from(payload) });
      this.#pending = this.#pending.subarray(HEADER_BYTES + size);
    }
    return frames;
  }
}

function isFrameType(value: number): value is FrameType {
  return value >= FrameType.STDIN && value <= FrameType.ERROR;
}
