import {
  type Fields,
  fieldTokens,
  fieldValues,
  HeadError,
  type RequestHead,
  type ResponseHead,
} from './head.ts';

/** How a message's body is delimited (RFC 9112 §6.3). */
export type Framing =
  | { kind: 'none' }
  | { kind: 'length'; bytes: number }
  | { kind: 'chunked' }
  /** Response only: the body runs until the upstream closes. */
  | { kind: 'close' };

const NONE: Framing = { kind: 'none' };

/**
 * A request's framing. Both Transfer-Encoding and Content-Length, a coding
 * other than chunked, or disagreeing lengths are refused: each is a way
 * to make two parsers see different requests (RFC 9112 §6.1, §11.2).
 */
export function requestFraming(head: RequestHead): Framing {
  const codings = fieldTokens(head, 'transfer-encoding');
  const length = contentLength(head, 400);
  if (codings.length > 0) {
    if (length !== undefined || head.minor === 0) {
      throw new HeadError(400, 'Transfer-Encoding with Content-Length');
    }
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      throw new HeadError(501, 'only the chunked transfer coding is known');
    }
    return { kind: 'chunked' };
  }
  if (length === undefined || length === 0) return NONE;
  return { kind: 'length', bytes: length };
}

/** A response's framing, given the request it answers. */
export function responseFraming(
  head: ResponseHead,
  requestMethod: string,
): Framing {
  const { status } = head;
  if (requestMethod === 'HEAD' || status < 200) return NONE;
  if (status === 204 || status === 304) return NONE;

  const codings = fieldTokens(head, 'transfer-encoding');
  if (codings.length > 0) {
    // Only chunked can be passed on: any other coding would need this hop
    // to keep Transfer-Encoding, a hop-by-hop field, or to decode it.
    if (codings.at(-1) !== 'chunked' || codings.length !== 1) {
      throw new HeadError(502, 'unsupported transfer coding');
    }
    return { kind: 'chunked' };
  }
  const length = contentLength(head, 502);
  if (length === undefined) return { kind: 'close' };
  return length === 0 ? NONE : { kind: 'length', bytes: length };
}

/** The one Content-Length value, when the fields agree (RFC 9110 §8.6). */
export function contentLength(
  fields: Fields,
  status: number,
): number | undefined {
  let length: number | undefined;
  for (const value of fieldValues(fields, 'content-length')) {
    const bytes = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
    if (Number.isNaN(bytes) || (length !== undefined && bytes !== length)) {
      throw new HeadError(status, 'invalid Content-Length');
    }
    length = bytes;
  }
  return length;
}
