import type { Duplex } from 'node:stream';
import { isAegisError } from '../errors.ts';

/**
 * The answers the router gives on its own behalf:
 * - 502: the upstream broke the exchange after it could have seen the
 *   request, so the request is not replayed;
 * - 503: no attempt reached the upstream before the bound ran out, or
 *   wake() failed; Retry-After tells the client when to come back;
 * - 504: the upstream took the request but sent no response head within
 *   the response-header timeout.
 * The others refuse a client's request before it goes anywhere.
 */
export type RouterAnswer = 502 | 503 | 504;
export type ClientError = 400 | 408 | 417 | 431 | 501 | 505;

/** Seconds a client should wait after a 503 (RFC 9110 §10.2.3). */
export const RETRY_AFTER_S = 2;

const REASONS: Record<RouterAnswer | ClientError, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Plain-text body; wake() errors are AegisErrors written for users. */
export function answerBody(status: RouterAnswer, cause?: unknown): string {
  if (isAegisError(cause)) return `aegis: ${cause.code}: ${cause.message}\n`;
  if (status === 502) return 'aegis: the upstream broke the connection\n';
  if (status === 504) return 'aegis: the upstream did not answer in time\n';
  return 'aegis: the upstream is not accepting connections; retry later\n';
}

/** A refused request; the connection closes after it. */
export function refusal(status: ClientError, why: string): string {
  return message(status, `aegis: ${why}\n`, true);
}

/**
 * The full router answer, head and body. `close` adds Connection: close,
 * for when the connection cannot carry another request.
 */
export function routerAnswer(
  status: RouterAnswer,
  cause: unknown,
  close: boolean,
): string {
  return message(status, answerBody(status, cause), close);
}

/** The same answer written on a raw socket, for upgrade requests. */
export function answerSocket(
  socket: Duplex,
  status: RouterAnswer,
  cause?: unknown,
): void {
  if (socket.destroyed) return;
  socket.end(routerAnswer(status, cause, true));
}

function message(
  status: RouterAnswer | ClientError,
  body: string,
  close: boolean,
): string {
  const retryAfter = status === 503 ? `Retry-After: ${RETRY_AFTER_S}\r\n` : '';
  return (
    `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    retryAfter +
    (close ? 'Connection: close\r\n' : '') +
    `\r\n${body}`
  );
}
