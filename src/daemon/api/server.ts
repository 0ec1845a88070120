/**
 * The daemon's HTTP API (node:http, on a unix socket): finds the route,
 * runs it, and turns whatever it throws into a JSON error. A bug answers
 * 500 INTERNAL and is logged; its details never reach the client.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AegisError } from '../../errors.ts';
import { DAEMON_ROUTES } from './daemon-routes.ts';
import { handleExecUpgrade, refuseUpgrade } from './exec-upgrade.ts';
import { errorBody, errorStatus, sendJson } from './http.ts';
import { IMAGE_ROUTES } from './image-routes.ts';
import { INSTANCE_ROUTES, refuseChange } from './instance-routes.ts';
import { type ApiDeps, matchRoute, type Route } from './route.ts';
import { STREAM_ROUTES } from './stream-routes.ts';

/** Every route the API serves; docs/openapi.yaml documents each. */
export const ROUTES: readonly Route[] = [
  ...DAEMON_ROUTES,
  ...INSTANCE_ROUTES,
  ...STREAM_ROUTES,
  ...IMAGE_ROUTES,
];

const EXEC_PATH = '/v1/instances/{ref}/exec';

/** Upgraded connections, which server.closeAllConnections() skips. */
const UPGRADED = new WeakMap<http.Server, Set<Duplex>>();

export function createApiServer(deps: ApiDeps): http.Server {
  const server = http.createServer((req, res) => {
    void handleRequest(req, res, deps);
  });
  const upgraded = new Set<Duplex>();
  UPGRADED.set(server, upgraded);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    void handleUpgrade(req, socket, head, deps);
  });
  return server;
}

/** Closes every connection, upgraded (exec) ones included. */
export function closeAllConnections(server: http.Server): void {
  server.closeAllConnections();
  for (const socket of UPGRADED.get(server) ?? []) socket.destroy();
}

async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ApiDeps,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://aegisd');
  const method = req.method ?? 'GET';
  try {
    const { match, pathKnown } = matchRoute(ROUTES, method, url.pathname);
    const found = match ?? changeAttempt(method, url.pathname);
    if (!found) throw noRoute(method, url.pathname, pathKnown);
    const handle = found.route.handle;
    await handle({
      req,
      res,
      params: found.params,
      query: url.searchParams,
      deps,
    });
  } catch (error) {
    answerError(req, res, error, deps);
  }
}

/** Any PUT or PATCH below an instance tries to change it: IMMUTABLE. */
function changeAttempt(method: string, pathname: string) {
  if (method !== 'PUT' && method !== 'PATCH') return undefined;
  const ref = /^\/v1\/instances\/([^/]+)\/.+$/.exec(pathname)?.[1];
  if (ref === undefined) return undefined;
  const route: Route = { method, path: pathname, handle: refuseChange };
  return { route, params: { ref: decodeURIComponent(ref) } };
}

function noRoute(method: string, pathname: string, pathKnown: boolean) {
  const what = pathKnown
    ? `${pathname} does not take ${method}`
    : `no endpoint ${method} ${pathname}`;
  return new AegisError(
    'NOT_FOUND',
    `${what}; docs/openapi.yaml lists the endpoints`,
  );
}

function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  deps: ApiDeps,
): void {
  if (!(error instanceof AegisError)) {
    deps.log.error({ err: error, method: req.method, url: req.url }, 'bug');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  req.resume();
  sendJson(res, errorStatus(error), errorBody(error));
}

async function handleUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  deps: ApiDeps,
): Promise<void> {
  socket.on('error', () => {});
  const url = new URL(req.url ?? '/', 'http://aegisd');
  const exec = ROUTES.find((route) => route.path === EXEC_PATH)!;
  const { match } = matchRoute([exec], req.method ?? 'GET', url.pathname);
  if (!match) {
    refuseUpgrade(socket, noRoute(req.method ?? 'GET', url.pathname, false));
    return;
  }
  await handleExecUpgrade(req, socket, head, match.params.ref!, deps);
}
