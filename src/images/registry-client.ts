import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { AegisError, describeError } from '../errors.ts';
import {
  type Challenge,
  type Credentials,
  parseChallenge,
} from './credentials.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './manifest.ts';
import { registryHost } from './reference.ts';

export interface RegistryClientOptions {
  readonly registry: string;
  readonly repository: string;
  readonly credentials?: Credentials;
  /** Allow plain HTTP to a registry that is not on loopback. */
  readonly insecure?: boolean;
}

/**
 * Speaks the pull side of the OCI distribution spec to one repository,
 * with the token flow of the Docker registry auth spec.
 */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #host: string;
  #baseUrl?: Promise<string>;
  #authorization?: string;

  constructor(options: RegistryClientOptions) {
    this.#options = options;
    this.#host = registryHost(options.registry);
  }

  /** GETs a manifest by tag or digest; returns its bytes unverified. */
  async getManifest(tagOrDigest: string): Promise<Buffer> {
    const path = `manifests/${tagOrDigest}`;
    const response = await this.#get(path, { accept: MANIFEST_ACCEPT });
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > MAX_MANIFEST_BYTES) {
      await response.body?.cancel();
      throw this.#unavailable(`sent a ${declared}-byte manifest`);
    }
    return readLimited(response, MAX_MANIFEST_BYTES, () =>
      this.#unavailable('sent a manifest over 4 MiB'),
    );
  }

  /** GETs a blob as a stream; the caller verifies its digest. */
  async getBlob(digest: string): Promise<Readable> {
    const response = await this.#get(`blobs/${digest}`, {});
    if (response.body === null) throw this.#unavailable('sent no body');
    return Readable.fromWeb(response.body as ReadableStream);
  }

  async #get(path: string, headers: Record<string, string>): Promise<Response> {
    const base = await this.#base();
    const url = `${base}/v2/${this.#options.repository}/${path}`;
    let response = await this.#fetch(url, headers);
    if (response.status === 401) {
      await response.body?.cancel();
      await this.#authenticate(response.headers.get('www-authenticate'));
      response = await this.#fetch(url, headers);
      if (response.status === 401) {
        await response.body?.cancel();
        throw this.#unauthorized('refused the credentials');
      }
    }
    if (response.ok) return response;
    await response.body?.cancel();
    if (response.status === 404) throw this.#notFound(path);
    if (response.status === 403) throw this.#unauthorized('denied access');
    throw this.#unavailable(`answered HTTP ${response.status} for ${url}`);
  }

  async #fetch(
    url: string,
    headers: Record<string, string>,
  ): Promise<Response> {
    const auth = this.#authorization;
    try {
      return await fetch(url, {
        headers:
          auth === undefined ? headers : { ...headers, authorization: auth },
        redirect: 'follow',
      });
    } catch (error) {
      throw this.#unavailable(`could not be reached at ${url}`, error);
    }
  }

  async #authenticate(rawChallenge: string | null): Promise<void> {
    const challenge = parseChallenge(rawChallenge ?? '');
    const credentials = this.#options.credentials;
    if (challenge.scheme === 'bearer') {
      this.#authorization = `Bearer ${await this.#fetchToken(challenge)}`;
      return;
    }
    if (challenge.scheme === 'basic' && credentials !== undefined) {
      this.#authorization = `Basic ${basic(credentials)}`;
      return;
    }
    throw this.#unauthorized('asks for credentials and none were given');
  }

  // Docker registry token auth: GET realm?service=…&scope=…, with basic
  // credentials when we have them, answers {"token"} or {"access_token"}.
  async #fetchToken(challenge: Challenge): Promise<string> {
    const realm = challenge.params.realm;
    if (realm === undefined)
      throw this.#unavailable('sent a bearer challenge without a realm');
    const url = new URL(realm);
    if (url.protocol !== 'https:' && !this.#allowsHttp(url.host)) {
      throw this.#unavailable(`sent a plain-HTTP token realm ${realm}`);
    }
    const scope =
      challenge.params.scope ?? `repository:${this.#options.repository}:pull`;
    if (challenge.params.service !== undefined) {
      url.searchParams.set('service', challenge.params.service);
    }
    url.searchParams.set('scope', scope);

    const credentials = this.#options.credentials;
    const headers: Record<string, string> =
      credentials === undefined
        ? {}
        : { authorization: `Basic ${basic(credentials)}` };
    const response = await fetch(url, { headers }).catch((error) => {
      throw this.#unavailable(
        `token service ${url.origin} could not be reached`,
        error,
      );
    });
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw this.#unauthorized('token service refused the credentials');
    }
    const body = (await response.json().catch(() => ({}))) as Record<
      string,
      unknown
    >;
    const token = body.token ?? body.access_token;
    if (!response.ok || typeof token !== 'string') {
      throw this.#unavailable(
        `token service answered HTTP ${response.status} without a token`,
      );
    }
    return token;
  }

  #base(): Promise<string> {
    this.#baseUrl ??= this.#probeScheme();
    return this.#baseUrl;
  }

  // As Docker does: HTTPS always first; plain HTTP only as a fallback for
  // loopback registries or ones the user marked insecure.
  async #probeScheme(): Promise<string> {
    const https = `https://${this.#host}`;
    if (!this.#allowsHttp(this.#host)) return https;
    try {
      await (await fetch(`${https}/v2/`)).body?.cancel();
      return https;
    } catch {
      return `http://${this.#host}`;
    }
  }

  #allowsHttp(host: string): boolean {
    return this.#options.insecure === true || isLoopback(host);
  }

  #unavailable(why: string, cause?: unknown): AegisError {
    const detail = cause === undefined ? '' : `: ${describeCause(cause)}`;
    return new AegisError(
      'REGISTRY_UNAVAILABLE',
      `registry ${this.#options.registry} ${why}${detail}`,
      cause === undefined ? undefined : { cause },
    );
  }

  #unauthorized(why: string): AegisError {
    const user = this.#options.credentials?.username;
    const who = user === undefined ? 'anonymously' : `as user ${user}`;
    return new AegisError(
      'REGISTRY_UNAUTHORIZED',
      `registry ${this.#options.registry} ${why} (pulling ` +
        `${this.#options.repository} ${who}); log in with docker login ` +
        'or pass the right credentials',
    );
  }

  #notFound(path: string): AegisError {
    return new AegisError(
      'NOT_FOUND',
      `registry ${this.#options.registry} has no ${path} in ` +
        `${this.#options.repository}; check the name, tag and digest`,
    );
  }
}

/** localhost, 127.0.0.0/8 and ::1, with or without a port. */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[')
    ? host.slice(1, host.indexOf(']'))
    : host.replace(/:\d+$/, '');
  return (
    name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name)
  );
}

function basic(credentials: Credentials): string {
  const pair = `${credentials.username}:${credentials.password}`;
  return Buffer.from(pair).toString('base64');
}

function describeCause(cause: unknown): string {
  const inner = (cause as { cause?: unknown }).cause;
  return describeError(inner ?? cause);
}

async function readLimited(
  response: Response,
  maxBytes: number,
  tooBig: () => AegisError,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  if (response.body === null) return Buffer.alloc(0);
  const body = Readable.fromWeb(response.body as ReadableStream);
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) throw tooBig();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
