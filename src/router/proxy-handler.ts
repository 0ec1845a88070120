import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { rewriteResponseHeaders } from './headers.ts';
import type { AttemptResult } from './retry.ts';

/** How one dispatched attempt settled, from the exchange's point of view. */
export type Settled = 'responding' | 502 | 504;

/** undici refused to build the request: retrying cannot help. */
const UNSENDABLE = new Set<string | undefined>([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
]);

type Controller = Dispatcher.DispatchController;
type Resolve = (result: AttemptResult<Settled>) => void;

/**
 * undici handler for one attempt at one request. The attempt settles as
 * `retry` only when it fails before undici called onRequestStart, which
 * undici does just before writing the request head on a connection: until
 * then no byte of this request has left the router.
 */
export class ProxyHandler implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #resolve: Resolve;
  #controller: Controller | null = null;
  #cancelled: Error | null = null;
  #settled = false;

  constructor(res: ServerResponse, resolve: Resolve) {
    this.#res = res;
    this.#resolve = resolve;
  }

  /** Stops the attempt: the client left. */
  cancel(reason: Error): void {
    if (this.#controller !== null) this.#controller.abort(reason);
    else this.#cancelled = reason;
  }

  onRequestStart(controller: Controller): void {
    if (this.#cancelled !== null) {
      controller.abort(this.#cancelled);
      return;
    }
    this.#controller = controller;
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    // 1xx answers are for this hop: the server already told the client
    // to continue, and early hints are optional (RFC 9110 §15.2).
    if (statusCode < 200) return;
    this.#settle({ kind: 'done', value: 'responding' });

    const res = this.#res;
    res.writeHead(statusCode, statusMessage, rewriteResponseHeaders(headers));
    res.on('drain', () => controller.resume());
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.#res.end();
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.#settled) {
      this.#res.destroy(error);
      return;
    }
    const code = (error as { code?: string }).code;
    if (this.#controller === null && !UNSENDABLE.has(code)) {
      this.#settle({ kind: 'retry', error });
      return;
    }
    const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT';
    this.#settle({ kind: 'done', value: timedOut ? 504 : 502 });
  }

  #settle(result: AttemptResult<Settled>): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(result);
  }
}
