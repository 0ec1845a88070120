/**
 * Field lists, the structured payloads of docs/protocol.md ("Payloads"):
 * a 1-byte tag, a 4-byte big-endian length, then the value.
 */
import { AegisError } from '../errors.ts';

export const Tag = {
  argv: 1,
  env: 2,
  cwd: 3,
  uid: 4,
  gid: 5,
  tty: 6,
  rows: 7,
  cols: 8,
  stdin: 9,
  signal: 10,
  pid: 11,
  exitCode: 12,
  realtimeNs: 13,
  errno: 14,
  message: 15,
  agentVersion: 16,
  protocol: 17,
  bootNs: 18,
  rootReadyNs: 19,
  nowNs: 20,
  workload: 21,
  hostname: 22,
  bytes: 23,
  graceMs: 24,
  groups: 25,
  holdMs: 26,
} as const;

const FIELD_HEADER_BYTES = 5;
const INTEGER_BYTES = 8;

/** Builds a field list; the order of repeated fields is kept. */
export class FieldWriter {
  #parts: Buffer[] = [];

  #add(tag: number, value: Buffer): this {
    const header = Buffer.alloc(FIELD_HEADER_BYTES);
    header[0] = tag;
    header.writeUInt32BE(value.length, 1);
    this.#parts.push(header, value);
    return this;
  }

  string(tag: number, value: string): this {
    return this.#add(tag, Buffer.from(value, 'utf8'));
  }

  integer(tag: number, value: number | bigint): this {
    const buffer = Buffer.alloc(INTEGER_BYTES);
    buffer.writeBigInt64BE(BigInt(value));
    return this.#add(tag, buffer);
  }

  flag(tag: number, value: boolean): this {
    return this.#add(tag, Buffer.from([value ? 1 : 0]));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** Parsed fields: every value of every tag, in order of appearance. */
export class Fields {
  readonly #values = new Map<number, Buffer[]>();

  static parse(payload: Buffer): Fields {
    const fields = new Fields();
    let at = 0;
    while (at < payload.length) {
      if (payload.length - at < FIELD_HEADER_BYTES) {
        throw fieldError('a field header is cut short');
      }
      const tag = payload[at]!;
      const length = payload.readUInt32BE(at + 1);
      const start = at + FIELD_HEADER_BYTES;
      if (length > payload.length - start) {
        throw fieldError(`field ${tag} runs past the end of its frame`);
      }
      fields.#push(tag, payload.subarray(start, start + length));
      at = start + length;
    }
    return fields;
  }

  #push(tag: number, value: Buffer): void {
    const list = this.#values.get(tag);
    if (list === undefined) this.#values.set(tag, [value]);
    else list.push(value);
  }

  has(tag: number): boolean {
    return this.#values.has(tag);
  }

  /** The last integer with this tag, or undefined when absent. */
  integer(tag: number): bigint | undefined {
    const value = this.#values.get(tag)?.at(-1);
    if (value === undefined) return undefined;
    if (value.length !== INTEGER_BYTES) {
      throw fieldError(`field ${tag} is not an 8-byte integer`);
    }
    return value.readBigInt64BE();
  }

  /** An integer that must lie in [min, max], returned as a number. */
  boundedInteger(tag: number, min: number, max: number): number | undefined {
    const value = this.integer(tag);
    if (value === undefined) return undefined;
    if (value < BigInt(min) || value > BigInt(max)) {
      throw fieldError(`field ${tag} is out of range: ${value}`);
    }
    return Number(value);
  }

  /** The last string with this tag, at most maxBytes long. */
  string(tag: number, maxBytes: number): string | undefined {
    const value = this.#values.get(tag)?.at(-1);
    if (value === undefined) return undefined;
    if (value.length > maxBytes) {
      throw fieldError(`field ${tag} is longer than ${maxBytes} bytes`);
    }
    return value.toString('utf8');
  }
}

function fieldError(message: string): AegisError {
  return new AegisError(
    'GUEST_PROTOCOL',
    `malformed guest message: ${message}`,
  );
}
