import type { ServerResponse } from 'node:http';
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
 */
export type RouterAnswer = 502 | 503 | 504;

/** Seconds a client should wait after a 503 (RFC 9110 §10.2.3). */
export const RETRY_AFTER_S = 2;

const REASONS: Record<RouterAnswer, string> = {
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

export function answerResponse(
  res: ServerResponse,
  status: RouterAnswer,
  cause?: unknown,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = answerBody(status, cause);
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  };
  if (status === 503) headers['retry-after'] = RETRY_AFTER_S;
  res.writeHead(status, REASONS[status], headers);
  res.end(body);
}

/** The same answer written on a raw socket, for upgrade requests. */
export function answerSocket(
  socket: Duplex,
  status: RouterAnswer,
  cause?: unknown,
): void {
  if (socket.destroyed) return;
  const body = answerBody(status, cause);
  const retryAfter = status === 503 ? `Retry-After: ${RETRY_AFTER_S}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      retryAfter +
      'Connection: close\r\n\r\n' +
      body,
  );
}
