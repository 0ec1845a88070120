import type { Framing } from './framing.ts';
import { HeadError } from './head.ts';

/** Bytes of chunk-size lines, extensions and trailers, in all. */
const MAX_CHUNK_METADATA_BYTES = 16 * 1024;

/** Where a chunked body's parse stands. */
const State = {
  Size: 0,
  Extension: 1,
  SizeLf: 2,
  Data: 3,
  DataCr: 4,
  DataLf: 5,
  TrailerStart: 6,
  Trailer: 7,
  TrailerLf: 8,
  FinalLf: 9,
  Done: 10,
} as const;
type State = (typeof State)[keyof typeof State];

const CR = 0x0d;
const LF = 0x0a;

/** Where a body's bytes end in a buffer, and whether the body is whole. */
export interface Scan {
  /** Offset just past the body's last byte in this buffer. */
  end: number;
  done: boolean;
}

/** Called with the payload bytes of a chunked body, for decoding. */
export type DataSink = (data: Buffer) => void;

/**
 * Finds the end of a message body in the bytes that follow its head, so
 * that the router can pass the body on unchanged and know where the next
 * message starts. Chunked framing is checked byte by byte (RFC 9112 §7.1)
 * and its overhead is bounded; a malformed body throws a HeadError with
 * `status` (400 from a client, 502 from the upstream).
 */
export class BodyReader {
  readonly #chunked: boolean;
  readonly #status: number;
  /** Length bodies: bytes still to come; chunked: of the current chunk. */
  #remaining: number;
  #state: State;
  #metadataBytes = 0;
  #sizeDigits = 0;

  constructor(framing: Framing, status: number) {
    this.#chunked = framing.kind === 'chunked';
    this.#status = status;
    this.#remaining = framing.kind === 'length' ? framing.bytes : 0;
    const bounded = framing.kind === 'none' || framing.kind === 'length';
    this.#state = bounded && this.#remaining === 0 ? State.Done : State.Size;
    if (framing.kind === 'close') this.#remaining = Number.POSITIVE_INFINITY;
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Scans `buffer` from `start`; `sink` receives chunked payload bytes. */
  scan(buffer: Buffer, start: number, sink?: DataSink): Scan {
    if (this.#state === State.Done) return { end: start, done: true };
    if (!this.#chunked) return this.#scanLength(buffer, start);

    let at = start;
    while (at < buffer.length && !this.done) {
      if (this.#state === State.Data) {
        const take = Math.min(this.#remaining, buffer.length - at);
        sink?.(buffer.subarray(at, at + take));
        this.#remaining -= take;
        at += take;
        if (this.#remaining === 0) this.#state = State.DataCr;
        continue;
      }
      this.#metadata(buffer[at]!);
      at++;
    }
    return { end: at, done: this.done };
  }

  #scanLength(buffer: Buffer, start: number): Scan {
    const take = Math.min(this.#remaining, buffer.length - start);
    this.#remaining -= take;
    if (this.#remaining === 0) this.#state = State.Done;
    return { end: start + take, done: this.#state === State.Done };
  }

  /** One byte of chunk framing outside chunk data. */
  #metadata(byte: number): void {
    if (++this.#metadataBytes > MAX_CHUNK_METADATA_BYTES) {
      this.#fail('chunk framing too long');
    }
    switch (this.#state) {
      case State.Size:
        this.#sizeByte(byte);
        break;
      case State.Extension:
        // Extensions are passed on unread; only their end matters.
        if (byte === CR) this.#state = State.SizeLf;
        else if (byte === LF) this.#fail('bare LF in chunk size');
        break;
      case State.SizeLf:
        this.#expectLf(byte, this.#afterSize());
        break;
      case State.DataCr:
        if (byte !== CR) this.#fail('chunk longer than its size');
        this.#state = State.DataLf;
        break;
      case State.DataLf:
        this.#expectLf(byte, State.Size);
        break;
      case State.TrailerStart:
        if (byte === CR) this.#state = State.FinalLf;
        else this.#trailerByte(byte);
        break;
      case State.Trailer:
        this.#trailerByte(byte);
        break;
      case State.TrailerLf:
        this.#expectLf(byte, State.TrailerStart);
        break;
      case State.FinalLf:
        this.#expectLf(byte, State.Done);
        break;
    }
  }

  #sizeByte(byte: number): void {
    const digit = hexValue(byte);
    if (digit >= 0) {
      // 13 hex digits stay below 2^53: exact in a double.
      if (++this.#sizeDigits > 13) this.#fail('chunk size too large');
      this.#remaining = this.#remaining * 16 + digit;
      return;
    }
    if (this.#sizeDigits === 0) this.#fail('missing chunk size');
    if (byte === CR) this.#state = State.SizeLf;
    else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
      this.#state = State.Extension;
    } else this.#fail('malformed chunk size');
  }

  #afterSize(): State {
    this.#sizeDigits = 0;
    return this.#remaining === 0 ? State.TrailerStart : State.Data;
  }

  #trailerByte(byte: number): void {
    if (byte === CR) this.#state = State.TrailerLf;
    else if (byte === LF) this.#fail('bare LF in trailer');
    else this.#state = State.Trailer;
  }

  #expectLf(byte: number, next: State): void {
    if (byte !== LF) this.#fail('CR without LF in chunk framing');
    this.#state = next;
  }

  #fail(message: string): never {
    throw new HeadError(this.#status, message);
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
