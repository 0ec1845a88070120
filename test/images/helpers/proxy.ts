import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does to traffic; tests change it between requests. */
export interface ProxyMode {
  /** Send only this many bytes of each blob body, then hang. */
  stallBlobsAfterBytes?: number;
  /** Flip a byte in the body of this blob. */
  corruptBlob?: string;
  /** Hold each blob request this long before forwarding it. */
  delayBlobsMs?: number;
  /** Serve what the registry has at `to` when `from` is asked for. */
  rewrite?: { from: string; to: string };
  /** Demand bearer tokens issued to these credentials. */
  bearer?: { username: string; password: string };
}

export interface TestProxy {
  host: string;
  /** Digests of the blob bodies served, in order. */
  blobRequests: string[];
  /** The most blob requests that were open at one time. */
  maxOpenBlobRequests: number;
  mode: ProxyMode;
  /** Resolves when a blob body has stalled, for the kill test. */
  stalled: Promise<void>;
  stop(): Promise<void>;
}

const TOKEN = 'aegis-test-token';

/**
 * A real HTTP proxy in front of a real registry that can stall or corrupt
 * blob bodies and can act as a bearer-token registry (the registry auth
 * spec's challenge, token endpoint and retry).
 */
export async function startProxy(
  upstream: string,
  mode: ProxyMode = {},
): Promise<TestProxy> {
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((resolve) => {
    onStall = resolve;
  });
  const proxy = {
    mode,
    blobRequests: [] as string[],
    maxOpenBlobRequests: 0,
  } as TestProxy;
  let openBlobRequests = 0;
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const asked = req.url ?? '/';
    const url =
      asked === proxy.mode.rewrite?.from ? proxy.mode.rewrite.to : asked;
    const bearer = proxy.mode.bearer;
    if (url.startsWith('/token')) {
      const expected =
        bearer &&
        Buffer.from(`${bearer.username}:${bearer.password}`).toString('base64');
      if (req.headers.authorization !== `Basic ${expected}`) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: TOKEN }));
      return;
    }
    if (
      bearer !== undefined &&
      req.headers.authorization !== `Bearer ${TOKEN}`
    ) {
      const realm = `http://${proxy.host}/token`;
      res.writeHead(401, {
        'www-authenticate':
          `Bearer realm="${realm}",service="aegis-test",` +
          'scope="repository:x:pull"',
      });
      res.end();
      return;
    }
    const headers = { ...req.headers, host: upstream };
    delete headers.authorization;
    if (/\/blobs\/sha256:/.test(url) && req.method === 'GET') {
      openBlobRequests++;
      proxy.maxOpenBlobRequests = Math.max(
        proxy.maxOpenBlobRequests,
        openBlobRequests,
      );
      res.once('close', () => openBlobRequests--);
    }
    const delayMs = /\/blobs\//.test(url) ? (proxy.mode.delayBlobsMs ?? 0) : 0;
    const forwardRequest = (): void => {
      const forward = request(
        {
          host: upstream.split(':')[0],
          port: Number(upstream.split(':')[1]),
          method: req.method,
          path: url,
          headers,
        },
        (upstreamRes) => {
          const isBlob =
            /\/blobs\/sha256:/.test(url) &&
            req.method === 'GET' &&
            upstreamRes.statusCode === 200;
          if (isBlob)
            proxy.blobRequests.push(url.slice(url.lastIndexOf('/') + 1));
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          if (!isBlob) {
            upstreamRes.pipe(res);
            return;
          }
          let sent = 0;
          let flipped = false;
          upstreamRes.on('data', (chunk: Buffer) => {
            const limit = proxy.mode.stallBlobsAfterBytes;
            if (
              proxy.mode.corruptBlob !== undefined &&
              url.endsWith(proxy.mode.corruptBlob) &&
              !flipped
            ) {
              chunk = Buffer.from(chunk);
              chunk[0] = (chunk[0] ?? 0) ^ 0xff;
              flipped = true;
            }
            if (limit !== undefined && sent + chunk.length >= limit) {
              res.write(chunk.subarray(0, Math.max(0, limit - sent)));
              sent = limit;
              upstreamRes.destroy();
              hanging.add(res);
              onStall();
              return;
            }
            sent += chunk.length;
            res.write(chunk);
          });
          upstreamRes.on('end', () => res.end());
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    };
    setTimeout(forwardRequest, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stalled = stalled;
  proxy.stop = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}
