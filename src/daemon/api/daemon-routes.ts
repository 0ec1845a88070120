/** Routes about the daemon itself, and exec without its upgrade. */
import { AegisError } from '../../errors.ts';
import { EXEC_UPGRADE } from './exec-frames.ts';
import { checkQuery, sendJson } from './http.ts';
import type { RequestContext, Route } from './route.ts';
import { API_VERSION, VERSION } from './version.ts';

async function version({ res, query }: RequestContext) {
  checkQuery(query, []);
  sendJson(res, 200, { version: VERSION, apiVersion: API_VERSION });
}

async function shutdown({ res, query, deps }: RequestContext) {
  checkQuery(query, []);
  res.once('finish', () => deps.requestShutdown());
  sendJson(res, 202, { shuttingDown: true });
}

/** Reached only when the client did not ask for the upgrade. */
async function execWithoutUpgrade() {
  throw new AegisError(
    'INVALID_ARGUMENT',
    `exec needs an HTTP upgrade: send "Connection: Upgrade" and ` +
      `"Upgrade: ${EXEC_UPGRADE}" (see docs/api.md)`,
  );
}

export const DAEMON_ROUTES: Route[] = [
  { method: 'GET', path: '/v1/version', handle: version },
  { method: 'POST', path: '/v1/daemon/shutdown', handle: shutdown },
  {
    method: 'POST',
    path: '/v1/instances/{ref}/exec',
    handle: execWithoutUpgrade,
  },
];
