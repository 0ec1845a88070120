/**
 * Strict HTTP/1.1 message heads (RFC 9112 §2–§5). The router parses what
 * it needs to frame messages and rewrite fields, and refuses anything
 * ambiguous rather than guess: a lenient parser in a proxy is how request
 * smuggling starts (RFC 9112 §11.2). Requests come from clients, responses
 * from the guest; both are untrusted.
 */

/** Why a head was refused, as the status this hop answers with. */
export class HeadError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A head's fields, with each name lower-cased once for lookups. */
export interface Fields {
  /** name, value, name, value… as received. */
  rawHeaders: string[];
  /** The lower-cased name of each field, in order. */
  names: string[];
}

export interface RequestHead extends Fields {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
}

export interface ResponseHead extends Fields {
  status: number;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  reason: string;
}

/** Ends a head: the empty line after the last field (RFC 9112 §2.1). */
export const HEAD_END = Buffer.from('\r\n\r\n');

/** The largest head accepted from a client, as node:http's default. */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;
/** A guest may send larger heads (cookies, CSP); still bounded. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
const MAX_FIELDS = 200;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TARGET = /^[\x21-\x7e]+$/;
/**
 * A whole field line: a token name, the colon right after it (§5.1), a
 * value of visible ASCII, obs-text, SP and HTAB (RFC 9110 §5.5). This also
 * refuses obs-fold, bare CR and LF, and NUL.
 */
const FIELD_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/;
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Parses `text` (the head without its final CRLF CRLF, as latin1). */
export function parseRequestHead(text: string): RequestHead {
  const lines = splitLines(text, 400);
  const [method, target, version, extra] = lines[0]!.split(' ');
  if (extra !== undefined || !method || !target || !version) {
    throw new HeadError(400, 'malformed request line');
  }
  if (!TOKEN.test(method)) throw new HeadError(400, 'malformed method');
  if (!TARGET.test(target)) throw new HeadError(400, 'malformed target');
  const minor = parseVersion(version, 505);
  return { method, target, minor, ...parseFields(lines, 400) };
}

/** Parses a response head from the upstream; errors mean 502. */
export function parseResponseHead(text: string): ResponseHead {
  const lines = splitLines(text, 502);
  const line = lines[0]!;
  const status = Number(line.slice(9, 12));
  const reason = line.slice(13);
  const minor = parseVersion(line.slice(0, 8), 502);
  if (line[8] !== ' ' || !/^[1-9]\d\d$/.test(line.slice(9, 12))) {
    throw new HeadError(502, 'malformed status line');
  }
  if (line.length > 12 && (line[12] !== ' ' || !REASON.test(reason))) {
    throw new HeadError(502, 'malformed reason phrase');
  }
  return { status, minor, reason, ...parseFields(lines, 502) };
}

function splitLines(text: string, status: number): string[] {
  const lines = text.split('\r\n');
  if (lines.length - 1 > MAX_FIELDS) {
    throw new HeadError(status === 400 ? 431 : status, 'too many fields');
  }
  return lines;
}

function parseVersion(text: string | undefined, unsupported: number): number {
  if (text === 'HTTP/1.1') return 1;
  if (text === 'HTTP/1.0') return 0;
  if (text !== undefined && /^HTTP\/\d\.\d$/.test(text)) {
    throw new HeadError(unsupported, `unsupported version ${text}`);
  }
  throw new HeadError(unsupported === 505 ? 400 : 502, 'malformed version');
}

/** Field lines after the start line (RFC 9112 §5). */
function parseFields(lines: string[], status: number): Fields {
  const rawHeaders: string[] = [];
  const names: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!FIELD_LINE.test(line)) {
      throw new HeadError(status, 'malformed header field');
    }
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    rawHeaders.push(name, line.slice(colon + 1).trim());
    names.push(name.toLowerCase());
  }
  return { rawHeaders, names };
}

/** All values of one field (`name` in lower case), in order. */
export function fieldValues(fields: Fields, name: string): string[] {
  const values: string[] = [];
  const { names, rawHeaders } = fields;
  for (let i = 0; i < names.length; i++) {
    if (names[i] === name) values.push(rawHeaders[2 * i + 1]!);
  }
  return values;
}

/** Comma-separated tokens of a field, lower-cased, empties dropped. */
export function fieldTokens(fields: Fields, name: string): string[] {
  const tokens: string[] = [];
  const { names, rawHeaders } = fields;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== name) continue;
    for (const token of rawHeaders[2 * i + 1]!.split(',')) {
      const trimmed = token.trim().toLowerCase();
      if (trimmed !== '') tokens.push(trimmed);
    }
  }
  return tokens;
}

/** Serializes fields as `Name: value` lines, each ending in CRLF. */
export function fieldLines(raw: readonly string[]): string {
  let text = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return text;
}
