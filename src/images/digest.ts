import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AegisError } from '../errors.ts';

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Checks that a digest from a manifest or archive is one Aegis handles. */
export function checkDigest(rawDigest: unknown, where: string): string {
  if (typeof rawDigest === 'string' && SHA256_DIGEST.test(rawDigest)) {
    return rawDigest;
  }
  throw new AegisError(
    'IMAGE_UNSUPPORTED',
    `${where} names digest ${JSON.stringify(rawDigest)}; ` +
      'Aegis reads only sha256:<64 hex digits> digests',
  );
}

/** The hex part of a sha256 digest, used as a file name. */
export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function digestMismatch(
  what: string,
  expected: string,
  actual: string,
): AegisError {
  return new AegisError(
    'DIGEST_MISMATCH',
    `${what} should hash to ${expected} but hashes to ${actual}; ` +
      'nothing of it was kept. Pull or load again; if it persists the ' +
      'source is corrupt',
  );
}

/**
 * A pass-through stream that hashes what flows through it and fails when
 * more than `maxBytes` flow, so a lying registry cannot fill the disk.
 */
export class DigestingStream extends Transform {
  #hash: Hash = createHash('sha256');
  #maxBytes: number;
  #what: string;
  bytes = 0;

  constructor(what: string, maxBytes = Number.POSITIVE_INFINITY) {
    super();
    this.#what = what;
    this.#maxBytes = maxBytes;
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: TransformCallback,
  ): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#maxBytes) {
      done(
        new AegisError(
          'DIGEST_MISMATCH',
          `${this.#what} is longer than the ${this.#maxBytes} bytes its ` +
            'descriptor declares; nothing of it was kept',
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    done(null, chunk);
  }

  /** The digest of everything that flowed; call once, at the end. */
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}
