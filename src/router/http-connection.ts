import type { Socket } from 'node:net';
import { type ClientError, refusal } from './answers.ts';
import {
  Exchange,
  type ExchangeOwner,
  type HttpContext,
} from './http-exchange.ts';
import { requestFraming } from './http1/framing.ts';
import {
  fieldTokens,
  fieldValues,
  HEAD_END,
  HeadError,
  MAX_REQUEST_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
} from './http1/head.ts';
import { proxyUpgrade } from './upgrade.ts';

/** An idle keep-alive connection is closed after this, as node:http does. */
const KEEP_ALIVE_IDLE_MS = 5_000;
/** A request head must be complete this long after its first byte. */
const HEAD_TIMEOUT_MS = 60_000;
/** After a refusal, the client gets this long to read it before a reset. */
const LINGER_MS = 2_000;

const CR = 0x0d;
const LF = 0x0a;

/**
 * One client connection of an `http` listener: reads request heads one at
 * a time (a pipelined request waits for the one before it), runs each as
 * an Exchange, and hands an Upgrade request over as a raw tunnel.
 */
export class ClientConnection implements ExchangeOwner {
  readonly socket: Socket;
  readonly #context: HttpContext;
  #buffer: Buffer | null = null;
  #exchange: Exchange | null = null;
  /** When the incomplete head in the buffer was first seen; 0: none. */
  #headStartedMs = 0;
  #closeAfter = false;
  #ended = false;
  #closing = false;
  #parsing = false;

  constructor(context: HttpContext, socket: Socket) {
    this.#context = context;
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('close', () => this.#exchange?.abort());
    socket.on('timeout', () => this.#onTimeout());
    // 'close' follows every error and is where it is handled.
    socket.on('error', () => {});
    socket.setTimeout(KEEP_ALIVE_IDLE_MS);
  }

  get closeAfter(): boolean {
    return this.#closeAfter;
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (this.#buffer === null && !this.#closing) this.socket.resume();
  }

  exchangeDone(keepAlive: boolean): void {
    this.#exchange = null;
    if (!keepAlive || this.#closing) {
      this.#close();
      return;
    }
    if (this.#buffer === null && this.#ended) {
      this.#close();
      return;
    }
    this.socket.resume();
    if (!this.#parsing) this.#next();
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    const exchange = this.#exchange;
    let rest = chunk;
    if (exchange !== null && !exchange.bodyDone) {
      const end = exchange.feedBody(chunk, 0);
      if (end === chunk.length) return;
      rest = chunk.subarray(end);
    }
    this.#buffer = this.#buffer ? Buffer.concat([this.#buffer, rest]) : rest;
    // A pipelined request waits, unread, until the one before is done.
    if (this.#exchange !== null) this.socket.pause();
    else this.#next();
  }

  /** Starts the exchanges for every complete head in the buffer. */
  #next(): void {
    this.#parsing = true;
    try {
      while (this.#exchange === null && !this.#closing) {
        if (!this.#startExchange()) break;
      }
    } finally {
      this.#parsing = false;
    }
  }

  /** Starts one exchange; false when the buffer holds no complete head. */
  #startExchange(): boolean {
    const buffer = this.#skipEmptyLines();
    if (buffer === null) return false;
    const end = buffer.indexOf(HEAD_END);
    if (end < 0) {
      // Only an incomplete head is timed: a complete one costs no clock.
      if (this.#headStartedMs === 0) this.#headStartedMs = Date.now();
      if (buffer.length > MAX_REQUEST_HEAD_BYTES) {
        this.#refuse(431, 'request head too large');
      } else if (this.#headTookTooLong()) {
        this.#refuse(408, 'request head took too long');
      }
      return false;
    }
    this.#headStartedMs = 0;
    if (end > MAX_REQUEST_HEAD_BYTES) {
      this.#refuse(431, 'request head too large');
      return false;
    }

    let head: RequestHead;
    let exchange: Exchange;
    try {
      head = parseRequestHead(buffer.toString('latin1', 0, end));
      checkRequest(head);
      if (isUpgrade(head)) {
        this.#handOver(head, buffer.subarray(end + HEAD_END.length));
        return false;
      }
      const framing = requestFraming(head);
      exchange = new Exchange(this.#context, this, head, framing);
    } catch (error) {
      if (!(error instanceof HeadError)) throw error;
      this.#refuse(error.status as ClientError, error.message);
      return false;
    }

    this.#closeAfter ||= wantsClose(head);
    this.#exchange = exchange;
    this.#buffer = null;
    const bodyStart = end + HEAD_END.length;
    const bodyEnd = exchange.feedBody(buffer, bodyStart);
    if (bodyEnd < buffer.length) {
      this.#buffer = buffer.subarray(bodyEnd);
      this.socket.pause();
    }
    exchange.start();
    return true;
  }

  /** Drops the empty lines a client may send before a request (§2.2). */
  #skipEmptyLines(): Buffer | null {
    const buffer = this.#buffer;
    if (buffer === null) return null;
    let at = 0;
    while (at < buffer.length && (buffer[at] === CR || buffer[at] === LF)) at++;
    if (at === 0) return buffer;
    this.#buffer = at === buffer.length ? null : buffer.subarray(at);
    return this.#buffer;
  }

  /** Gives the socket to the upgrade path, with the bytes already read. */
  #handOver(head: RequestHead, rest: Buffer): void {
    const socket = this.socket;
    this.#closing = true;
    this.#buffer = null;
    socket.pause();
    socket.setTimeout(0);
    for (const event of ['data', 'end', 'close', 'timeout', 'error']) {
      socket.removeAllListeners(event);
    }
    proxyUpgrade(this.#context, head, socket, rest);
  }

  #onEnd(): void {
    this.#ended = true;
    const exchange = this.#exchange;
    if (exchange === null) this.#close();
    else if (!exchange.bodyDone) {
      // The request body can never be complete: drop the exchange rather
      // than leave the upstream waiting for the rest.
      exchange.abort();
      this.#exchange = null;
      this.#close();
    }
  }

  #onTimeout(): void {
    if (this.#exchange !== null || this.#closing) return;
    if (this.#buffer === null) this.socket.destroy();
    else if (this.#headTookTooLong()) {
      this.#refuse(408, 'request head took too long');
    }
  }

  #headTookTooLong(): boolean {
    const startedMs = this.#headStartedMs;
    return startedMs !== 0 && Date.now() - startedMs > HEAD_TIMEOUT_MS;
  }

  #refuse(status: ClientError, why: string): void {
    this.socket.write(refusal(status, why));
    this.#close();
  }

  /** Ends the connection, leaving the client time to read the last answer. */
  #close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#buffer = null;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }
}

/** Checks RFC 9112 asks of a server that framing does not cover. */
function checkRequest(head: RequestHead): void {
  if (head.method === 'CONNECT') {
    throw new HeadError(501, 'CONNECT is not proxied');
  }
  const hosts = fieldValues(head, 'host');
  // §3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
  if (hosts.length > 1 || (head.minor === 1 && hosts.length === 0)) {
    throw new HeadError(400, 'a request needs exactly one Host field');
  }
  const expect = fieldTokens(head, 'expect');
  if (expect.some((token) => token !== '100-continue')) {
    throw new HeadError(417, 'only Expect: 100-continue is known');
  }
}

function isUpgrade(head: RequestHead): boolean {
  if (fieldValues(head, 'upgrade').length === 0) return false;
  return fieldTokens(head, 'connection').includes('upgrade');
}

function wantsClose(head: RequestHead): boolean {
  const options = fieldTokens(head, 'connection');
  // HTTP/1.0 keep-alive needs its own signalling; one request is enough.
  return head.minor === 0 || options.includes('close');
}
