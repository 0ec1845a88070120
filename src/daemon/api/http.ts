/**
 * Small HTTP helpers for the API: JSON bodies in and out, query
 * parameters checked against what a route takes, errors as
 * `{"error": {"code", "message"}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AegisError, type ErrorCode } from '../../errors.ts';
import { MAX_BODY_BYTES } from './defaults.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Reads a JSON body; an empty body reads as `{}`. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readText(req, MAX_BODY_BYTES);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `the request body is not valid JSON (${(error as Error).message}); ` +
        'send a JSON object',
    );
  }
}

async function readText(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new AegisError(
        'INVALID_ARGUMENT',
        `the request body is over ${limit} bytes; send a smaller body`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

/** The body for any thrown value; never leaks internals of a bug. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof AegisError) {
    return { error: { code: error.code, message: error.message } };
  }
  return {
    error: {
      code: 'INTERNAL',
      message: 'internal error in aegisd; its log has the details',
    },
  };
}

export function errorStatus(error: unknown): number {
  return error instanceof AegisError ? error.httpStatus : 500;
}

/**
 * Checks the query against the parameters a route takes; an unknown or
 * repeated parameter is an error, not something to ignore.
 */
export function checkQuery(query: URLSearchParams, allowed: string[]): void {
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      const known = allowed.length ? allowed.join(', ') : 'none';
      throw new AegisError(
        'INVALID_ARGUMENT',
        `unknown query parameter "${key}"; this endpoint takes: ${known}`,
      );
    }
    if (seen.has(key)) {
      throw new AegisError(
        'INVALID_ARGUMENT',
        `query parameter "${key}" is given twice; give it once`,
      );
    }
    seen.add(key);
  }
}

/** `1`, `true`, `0`, `false`, or absent (false). */
export function queryFlag(query: URLSearchParams, key: string): boolean {
  const raw = query.get(key);
  if (raw === null || raw === '0' || raw === 'false') return false;
  if (raw === '' || raw === '1' || raw === 'true') return true;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `query parameter "${key}" is "${raw}"; use 1 or 0 (true or false)`,
  );
}

/** A whole number of at least 0, or null when absent. */
export function queryCount(query: URLSearchParams, key: string): number | null {
  const raw = query.get(key);
  if (raw === null) return null;
  if (/^[0-9]{1,9}$/.test(raw)) return Number(raw);
  throw new AegisError(
    'INVALID_ARGUMENT',
    `query parameter "${key}" is "${raw}"; use a whole number, e.g. ${key}=100`,
  );
}
