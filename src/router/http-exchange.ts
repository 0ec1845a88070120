import type { Socket } from 'node:net';
import { beginActivity } from './activity.ts';
import { type RouterAnswer, refusal, routerAnswer } from './answers.ts';
import { rewriteRequestHeaders, rewriteResponseHeaders } from './headers.ts';
import { BodyReader } from './http1/body.ts';
import { type Framing, responseFraming } from './http1/framing.ts';
import {
  fieldLines,
  fieldTokens,
  HEAD_END,
  HeadError,
  MAX_RESPONSE_HEAD_BYTES,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from './http1/head.ts';
import { type GiveUp, retryUntilDeadline } from './retry.ts';
import type { ListenerStats } from './stats.ts';
import type { RetryPolicy, RouteTarget, UpstreamAddress } from './types.ts';
import type {
  UpstreamConnection,
  UpstreamPool,
  UpstreamUser,
} from './upstream-pool.ts';

export interface HttpContext {
  target: RouteTarget;
  policy: RetryPolicy;
  pool: UpstreamPool;
  stats: ListenerStats;
  responseHeaderTimeoutMs: number;
}

/** The client connection an exchange belongs to. */
export interface ExchangeOwner {
  readonly socket: Socket;
  /** The client asked to close after this exchange, or is HTTP/1.0. */
  readonly closeAfter: boolean;
  pauseReading(): void;
  resumeReading(): void;
  /** The exchange is over; `keepAlive` if another request may follow. */
  exchangeDone(keepAlive: boolean): void;
}

/** Request body bytes held while no upstream connection is ready. */
const MAX_HELD_BODY_BYTES = 64 * 1024;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** Up to this, body bytes read with the head join it in one write. */
const SMALL_BODY_BYTES = 16 * 1024;

type Phase = 'connecting' | 'awaiting-head' | 'streaming' | 'done';

/**
 * One request and its response. The request waits, with its body held,
 * until wake() and an upstream connection succeed, so a failed attempt
 * has sent nothing and may be retried. Once written, a failure is a 502
 * and the request is never replayed. Bodies stream both ways with
 * backpressure; only heads are parsed and rewritten.
 */
export class Exchange implements UpstreamUser {
  readonly #context: HttpContext;
  readonly #owner: ExchangeOwner;
  readonly #head: RequestHead;
  readonly #requestBody: BodyReader;
  readonly #chunkedRequest: boolean;
  readonly #endActivity: () => void;
  #phase: Phase = 'connecting';
  #held: Buffer[] = [];
  #heldBytes = 0;
  #abort: AbortController | null = null;
  #upstream: UpstreamConnection | null = null;
  #address: UpstreamAddress | null = null;
  #timer: NodeJS.Timeout | undefined;
  #responseBuffer: Buffer | null = null;
  #responseBody: BodyReader | null = null;
  #reusable = true;
  #closeAfter = false;
  #decode = false;
  #closeDelimited = false;
  /** Backpressure in force: a 'drain' listener is waiting. */
  #clientPaused = false;
  #upstreamPaused = false;

  constructor(
    context: HttpContext,
    owner: ExchangeOwner,
    head: RequestHead,
    framing: Framing,
  ) {
    this.#context = context;
    this.#owner = owner;
    this.#head = head;
    this.#requestBody = new BodyReader(framing, 400);
    this.#chunkedRequest = framing.kind === 'chunked';
    context.stats.counters.requests++;
    this.#endActivity = beginActivity(context.target, context.stats);
  }

  get bodyDone(): boolean {
    return this.#requestBody.done;
  }

  /** Takes request body bytes from `start`; returns where the body ended. */
  feedBody(chunk: Buffer, start: number): number {
    let end: number;
    try {
      end = this.#requestBody.scan(chunk, start).end;
    } catch (error) {
      this.#failRequest(error as HeadError);
      return chunk.length;
    }
    if (end > start) this.#sendBody(chunk.subarray(start, end));
    if (this.#requestBody.done) this.#armHeadTimer();
    return end;
  }

  start(): void {
    // The first bytes of the body may already have broken its framing.
    if (this.#phase === 'done') return;
    const address = this.#context.target.ready?.();
    const kept =
      address === undefined ? undefined : this.#context.pool.takeIdle(address);
    if (kept !== undefined) this.#send(kept, address!);
    else this.#connect();
  }

  /** The client left: drop whatever is under way. */
  abort(): void {
    if (this.#phase === 'done') return;
    this.#context.stats.counters.clientAborts++;
    this.#abort?.abort(new Error('client closed the connection'));
    this.#upstream?.socket.destroy();
    this.#finish();
  }

  #connect(): void {
    const { target, policy, pool, stats } = this.#context;
    const abort = new AbortController();
    this.#abort = abort;
    const attempt = (address: UpstreamAddress, deadlineMs: number) =>
      pool.acquire(address, deadlineMs, abort.signal).then(
        (value) => ({ kind: 'done' as const, value: { value, address } }),
        (error: unknown) => ({ kind: 'retry' as const, error }),
      );

    retryUntilDeadline(target, policy, abort.signal, attempt, {
      onRetry: () => stats.counters.retries++,
    }).then((outcome) => {
      if (outcome.kind !== 'done') return this.#giveUp(outcome);
      const { value: connection, address } = outcome.value;
      if (this.#phase === 'done') connection.socket.destroy();
      else this.#send(connection, address);
    });
  }

  #send(connection: UpstreamConnection, address: UpstreamAddress): void {
    const { socket } = connection;
    this.#upstream = connection;
    this.#address = address;
    connection.user = this;
    this.#phase = 'awaiting-head';
    if (this.#awaitsContinue()) {
      // Asked to wait for a go-ahead before the body: one is due now
      // that the body has somewhere to go (RFC 9110 §10.1.1).
      this.#owner.socket.write(CONTINUE);
    }

    const held = this.#held;
    if (held.length === 0) socket.write(this.#requestHeadText(), 'latin1');
    else {
      // One write for the head and the body held so far.
      socket.cork();
      socket.write(this.#requestHeadText(), 'latin1');
      for (const chunk of held) socket.write(chunk);
      socket.uncork();
    }
    const wasFull = this.#heldBytes >= MAX_HELD_BODY_BYTES;
    this.#held = [];
    this.#heldBytes = 0;
    if (wasFull) this.#owner.resumeReading();
    if (this.#requestBody.done) this.#armHeadTimer();
  }

  /** HTTP/1.0 clients never wait for 100 (RFC 9110 §10.1.1). */
  #awaitsContinue(): boolean {
    if (this.#head.minor === 0 || this.#requestBody.done) return false;
    return fieldTokens(this.#head, 'expect').length > 0;
  }

  /**
   * Starts the response-header timeout once the whole request is out, so
   * that a long upload does not count against it.
   */
  #armHeadTimer(): void {
    const timeoutMs = this.#context.responseHeaderTimeoutMs;
    const waiting = this.#phase === 'awaiting-head';
    if (timeoutMs === 0 || !waiting || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#upstreamFailed(504), timeoutMs);
  }

  #requestHeadText(): string {
    const head = this.#head;
    const fields = rewriteRequestHeaders(head, {
      remoteAddress: this.#owner.socket.remoteAddress,
      upgrading: false,
    });
    // Sent on as HTTP/1.1, which requires Host (RFC 9112 §3.2); an
    // HTTP/1.0 client may have left it out.
    if (head.minor === 0 && !head.names.includes('host')) {
      fields.push('Host', localAuthority(this.#owner.socket));
    }
    const coding = this.#chunkedRequest ? 'Transfer-Encoding: chunked\r\n' : '';
    const line = `${head.method} ${head.target} HTTP/1.1\r\n`;
    return `${line}${fieldLines(fields)}${coding}\r\n`;
  }

  #sendBody(data: Buffer): void {
    const upstream = this.#upstream;
    if (upstream === null) {
      this.#held.push(data);
      this.#heldBytes += data.length;
      if (this.#heldBytes >= MAX_HELD_BODY_BYTES) this.#owner.pauseReading();
      return;
    }
    if (this.#phase === 'done' || upstream.socket.write(data)) return;
    if (this.#clientPaused) return;
    this.#clientPaused = true;
    this.#owner.pauseReading();
    upstream.socket.once('drain', () => {
      this.#clientPaused = false;
      this.#owner.resumeReading();
    });
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.#phase === 'streaming') {
      this.#forwardBody(chunk, 0);
      return;
    }
    if (this.#phase !== 'awaiting-head') return;
    try {
      this.#readHead(chunk);
    } catch (error) {
      if (!(error instanceof HeadError)) throw error;
      this.#upstreamFailed(502);
    }
  }

  #readHead(chunk: Buffer): void {
    let buffer = this.#responseBuffer
      ? Buffer.concat([this.#responseBuffer, chunk])
      : chunk;
    for (;;) {
      const end = buffer.indexOf(HEAD_END);
      if (end < 0) {
        if (buffer.length > MAX_RESPONSE_HEAD_BYTES) {
          throw new HeadError(502, 'response head too large');
        }
        this.#responseBuffer = buffer;
        return;
      }
      const head = parseResponseHead(buffer.toString('latin1', 0, end));
      const rest = end + HEAD_END.length;
      // 1xx answers are for this hop (RFC 9110 §15.2); 101 without an
      // Upgrade request is a protocol error.
      if (head.status === 101) throw new HeadError(502, 'unasked 101');
      if (head.status >= 200) {
        this.#responseBuffer = null;
        this.#respond(head, buffer, rest);
        return;
      }
      buffer = buffer.subarray(rest);
    }
  }

  /** Writes the response head, then the body bytes at `buffer[start:]`. */
  #respond(head: ResponseHead, buffer: Buffer, start: number): void {
    const { stats, pool } = this.#context;
    const framing = responseFraming(head, this.#head.method);
    const chunked = framing.kind === 'chunked';
    clearTimeout(this.#timer);
    stats.markReachable();
    pool.markAnswered(this.#address!);

    this.#decode = chunked && this.#head.minor === 0;
    this.#closeDelimited = framing.kind === 'close';
    this.#reusable &&= !upstreamCloses(head) && framing.kind !== 'close';
    this.#closeAfter =
      this.#owner.closeAfter ||
      !this.#requestBody.done ||
      framing.kind === 'close' ||
      this.#decode;
    const fields = rewriteResponseHeaders(head, chunked);
    const coding =
      chunked && !this.#decode ? 'Transfer-Encoding: chunked\r\n' : '';
    const close = this.#closeAfter ? 'Connection: close\r\n' : '';
    const reason = head.reason === '' ? '' : ` ${head.reason}`;
    const line = `HTTP/1.1 ${head.status}${reason}\r\n`;
    const text = `${line}${fieldLines(fields)}${coding}${close}\r\n`;
    this.#responseBody = new BodyReader(framing, 502);
    this.#phase = 'streaming';

    const client = this.#owner.socket;
    if (this.#decode) {
      client.write(text, 'latin1');
      this.#forwardBody(buffer, start);
      return;
    }
    // A malformed body start throws here, before anything was written.
    const { end } = this.#responseBody.scan(buffer, start);
    if (end - start <= SMALL_BODY_BYTES) {
      // Head and body leave in one write: a small response then costs
      // one syscall and one segment.
      client.write(text + buffer.toString('latin1', start, end), 'latin1');
    } else {
      client.write(text, 'latin1');
      this.#toClient(buffer.subarray(start, end));
    }
    this.#afterBodyBytes(end, buffer.length);
  }

  #forwardBody(buffer: Buffer, start: number): void {
    const reader = this.#responseBody!;
    let end: number;
    try {
      end = this.#decode
        ? reader.scan(buffer, start, (data) => this.#toClient(data)).end
        : reader.scan(buffer, start).end;
    } catch {
      // Part of the response is out: the client can only see it cut.
      this.#upstream!.socket.destroy();
      return;
    }
    if (!this.#decode && end > start) {
      this.#toClient(
        start === 0 && end === buffer.length
          ? buffer
          : buffer.subarray(start, end),
      );
    }
    this.#afterBodyBytes(end, buffer.length);
  }

  #afterBodyBytes(end: number, length: number): void {
    // Bytes past the response answer nothing that was asked.
    if (end < length) this.#reusable = false;
    if (this.#responseBody!.done) this.#responseDone();
  }

  #toClient(data: Buffer): void {
    const client = this.#owner.socket;
    if (client.write(data) || this.#upstreamPaused) return;
    const upstream = this.#upstream!.socket;
    this.#upstreamPaused = true;
    upstream.pause();
    client.once('drain', () => {
      this.#upstreamPaused = false;
      upstream.resume();
    });
  }

  onUpstreamEnd(): void {
    // A body delimited by the close ends here; any other end is a loss,
    // which the 'close' that follows reports.
    if (this.#phase === 'streaming' && this.#closeDelimited) {
      this.#responseDone();
    }
  }

  onUpstreamGone(): void {
    if (this.#phase === 'awaiting-head') this.#upstreamFailed(502);
    else if (this.#phase === 'streaming') {
      // The head is out: a cut response is all the client can be told.
      this.#owner.socket.destroy();
      this.#finish();
    }
  }

  #responseDone(): void {
    const upstream = this.#upstream!;
    // Its part is over: a slow client must not hold the next exchange.
    if (this.#upstreamPaused) upstream.socket.resume();
    if (this.#reusable && this.#requestBody.done) {
      this.#context.pool.release(upstream, this.#address!);
    } else {
      upstream.user = null;
      upstream.socket.destroy();
    }
    this.#upstream = null;
    this.#finish();
    this.#owner.exchangeDone(!this.#closeAfter);
  }

  /** The upstream failed after the request was written: no replay. */
  #upstreamFailed(status: 502 | 504): void {
    const { stats, pool } = this.#context;
    const upstream = this.#upstream;
    if (upstream !== null) {
      upstream.user = null;
      upstream.socket.destroy();
      this.#upstream = null;
    }
    if (status === 502) {
      stats.counters.badGateway++;
      pool.markFailed();
    } else stats.counters.gatewayTimeout++;
    this.#answer(status);
  }

  #giveUp(outcome: GiveUp): void {
    const { stats } = this.#context;
    if (outcome.kind === 'aborted' || this.#phase === 'done') return;
    if (outcome.kind === 'wake-failed') stats.counters.wakeFailures++;
    stats.counters.unavailable++;
    stats.markUnreachable(outcome.kind);
    const cause = outcome.kind === 'wake-failed' ? outcome.error : undefined;
    this.#answer(503, cause);
  }

  #answer(status: RouterAnswer, cause?: unknown): void {
    const close = this.#owner.closeAfter || !this.#requestBody.done;
    this.#owner.socket.write(routerAnswer(status, cause, close));
    this.#finish();
    this.#owner.exchangeDone(!close);
  }

  /** The request body broke its own framing. */
  #failRequest(error: HeadError): void {
    if (this.#phase === 'done') return;
    this.#upstream?.socket.destroy();
    this.#upstream = null;
    this.#abort?.abort(error);
    this.#finish();
    if (this.#responseBody === null) {
      this.#owner.socket.write(refusal(400, error.message));
    } else this.#owner.socket.destroy();
    this.#owner.exchangeDone(false);
  }

  #finish(): void {
    this.#phase = 'done';
    clearTimeout(this.#timer);
    this.#endActivity();
  }
}

/** The address the client connected to, as a Host value. */
function localAuthority(socket: Socket): string {
  const host = socket.localAddress ?? 'localhost';
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${shown}:${socket.localPort}`;
}

/** The upstream will not take another request on this connection. */
function upstreamCloses(head: ResponseHead): boolean {
  const options = fieldTokens(head, 'connection');
  if (options.includes('close')) return true;
  return head.minor === 0 && !options.includes('keep-alive');
}
