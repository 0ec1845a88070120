/**
 * A small typed client for the daemon's API over its unix socket, used by
 * the CLI. It uses node:http (which speaks to a unix socket through
 * `socketPath`, streams bodies with backpressure and supports the exec
 * upgrade) rather than a dependency.
 */
import http, { type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { AegisError, ERROR_CODES, type ErrorCode } from '../errors.ts';
import type { ExecBody } from './api/schemas.ts';
import type { ImageView, LogLine } from './manager.ts';
import type { Instance } from './model.ts';

export interface VersionInfo {
  version: string;
  apiVersion: string;
}

/** The create body as the CLI sends it; the daemon fills in defaults. */
export type CreateBody = Record<string, unknown> & { image: string };

export interface PullEvent {
  progress: 'begin' | 'advance' | 'end';
  id: string;
  totalBytes?: number;
  bytes?: number;
  state?: 'done' | 'cached' | 'failed';
}

export type Action = 'start' | 'stop' | 'restart' | 'pause' | 'resume';

export interface LogOptions {
  follow: boolean;
  tail: number | null;
  signal?: AbortSignal;
}

export class DaemonClient {
  readonly socketPath: string;
  #agent = new http.Agent({ keepAlive: true });

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  version(): Promise<VersionInfo> {
    return this.request('GET', '/v1/version');
  }

  createInstance(body: CreateBody): Promise<Instance> {
    return this.request('POST', '/v1/instances', body);
  }

  async listInstances(): Promise<Instance[]> {
    const answer = await this.request<{ instances: Instance[] }>(
      'GET',
      '/v1/instances',
    );
    return answer.instances;
  }

  getInstance(ref: string): Promise<Instance> {
    return this.request('GET', instancePath(ref));
  }

  act(ref: string, action: Action, timeoutMs?: number): Promise<Instance> {
    const body = timeoutMs === undefined ? {} : { timeoutMs };
    return this.request('POST', `${instancePath(ref)}/${action}`, body);
  }

  async removeInstance(ref: string, force: boolean): Promise<void> {
    const query = force ? '?force=1' : '';
    await this.request('DELETE', `${instancePath(ref)}${query}`);
  }

  async wait(ref: string, signal?: AbortSignal): Promise<number> {
    const path = `${instancePath(ref)}/wait`;
    const answer = await this.request<{ exitCode: number }>(
      'GET',
      path,
      undefined,
      signal,
    );
    return answer.exitCode;
  }

  /** The instance's log lines, as the daemon streams them. */
  async *logs(ref: string, options: LogOptions): AsyncGenerator<LogLine> {
    const query = new URLSearchParams();
    if (options.follow) query.set('follow', '1');
    if (options.tail !== null) query.set('tail', String(options.tail));
    const path = `${instancePath(ref)}/logs?${query}`;
    const res = await this.#send('GET', path, undefined, options.signal);
    yield* readLines(res);
  }

  async listImages(): Promise<ImageView[]> {
    const body = await this.request<{ images: ImageView[] }>(
      'GET',
      '/v1/images',
    );
    return body.images;
  }

  /** Pulls in the daemon; progress events arrive as the layers download. */
  async pullImage(
    ref: string,
    onProgress: (event: PullEvent) => void,
  ): Promise<ImageView> {
    const res = await this.#send('POST', '/v1/images/pull', { ref }, undefined);
    for await (const line of readJsonLines(res)) {
      const event = line as PullEvent & { image?: ImageView };
      if (event.image !== undefined) return event.image;
      if ('error' in event) throw toAegisError(event);
      onProgress(event);
    }
    throw new AegisError('INTERNAL', 'the pull ended without an answer');
  }

  /** Sends an archive (a file's or stdin's stream) to the daemon. */
  async loadImage(source: Readable, tag: string | null): Promise<ImageView[]> {
    const query = tag === null ? '' : `?tag=${encodeURIComponent(tag)}`;
    const req = http.request({
      socketPath: this.socketPath,
      method: 'POST',
      path: `/v1/images/load${query}`,
      headers: { 'content-type': 'application/x-tar' },
    });
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (error) => reject(unavailable(this.socketPath, error)));
    });
    // The daemon may refuse the archive before it has all of it (a layer
    // over the limits): stop sending then, but keep the connection open
    // to read why. A pipeline would tear both down together.
    source.on('error', (error) => req.destroy(error));
    source.pipe(req);
    const res = await answered;
    if ((res.statusCode ?? 500) >= 400) {
      source.unpipe(req);
      source.destroy();
      throw await readError(res);
    }
    return (JSON.parse(await readText(res)) as { images: ImageView[] }).images;
  }

  async removeImage(ref: string): Promise<string[]> {
    const path = `/v1/images?ref=${encodeURIComponent(ref)}`;
    return (await this.request<{ removed: string[] }>('DELETE', path)).removed;
  }

  pruneImages(): Promise<{ removedImages: string[]; freedBytes: number }> {
    return this.request('POST', '/v1/images/prune', {});
  }

  async shutdown(): Promise<void> {
    await this.request('POST', '/v1/daemon/shutdown', {});
  }

  /** Opens the exec stream: the upgraded socket and its first bytes. */
  openExec(
    ref: string,
    spec: ExecBody,
  ): Promise<{ socket: import('node:net').Socket; head: Buffer }> {
    const body = JSON.stringify(spec);
    const req = http.request({
      socketPath: this.socketPath,
      method: 'POST',
      path: `${instancePath(ref)}/exec`,
      headers: {
        connection: 'Upgrade',
        upgrade: 'aegis-exec',
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    });
    return new Promise((resolve, reject) => {
      req.once('upgrade', (_res, socket, head) => resolve({ socket, head }));
      req.once('response', (res) => readError(res).then(reject, reject));
      req.once('error', (error) => reject(unavailable(this.socketPath, error)));
      req.end(body);
    });
  }

  /** Sends a request and returns its JSON answer (undefined for 204). */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const res = await this.#send(method, path, body, signal);
    const text = await readText(res);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  close(): void {
    this.#agent.destroy();
  }

  async #send(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request({
      socketPath: this.socketPath,
      agent: this.#agent,
      method,
      path,
      headers,
      signal,
    });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (error) => reject(unavailable(this.socketPath, error)));
      req.end(payload);
    });
    if ((res.statusCode ?? 500) >= 400) throw await readError(res);
    return res;
  }
}

function instancePath(ref: string): string {
  return `/v1/instances/${encodeURIComponent(ref)}`;
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Splits an NDJSON body into values; an `error` line is thrown. */
async function* readLines(res: IncomingMessage): AsyncGenerator<LogLine> {
  for await (const value of readJsonLines(res)) {
    if (typeof value === 'object' && value !== null && 'error' in value) {
      throw toAegisError(value);
    }
    yield value as LogLine;
  }
}

/** One JSON value per line of an NDJSON answer. */
async function* readJsonLines(res: IncomingMessage): AsyncGenerator<unknown> {
  let pending = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line !== '') yield JSON.parse(line);
    }
  }
  if (pending !== '') yield JSON.parse(pending);
}

async function readError(res: IncomingMessage): Promise<AegisError> {
  const text = await readText(res);
  try {
    return toAegisError(JSON.parse(text));
  } catch {
    return new AegisError(
      'INTERNAL',
      `aegisd answered ${res.statusCode} with a body that is not an error`,
    );
  }
}

function toAegisError(body: unknown): AegisError {
  const { code, message } = (
    body as { error: { code: string; message: string } }
  ).error;
  const known = code in ERROR_CODES ? (code as ErrorCode) : 'INTERNAL';
  return new AegisError(known, String(message));
}

export function unavailable(socketPath: string, error: Error): Error {
  if (error.name === 'AbortError') return error;
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' || code === 'ECONNREFUSED'
      ? `aegisd is not running (nothing answers on ${socketPath})`
      : `the connection to aegisd on ${socketPath} failed (${error.message})`;
  return new AegisError(
    'DAEMON_UNAVAILABLE',
    `${why}; start it with \`aegis daemon start\``,
    { cause: error },
  );
}
