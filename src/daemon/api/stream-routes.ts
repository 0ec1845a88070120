/**
 * Long-lived answers: logs as NDJSON (optionally followed) and wait. The
 * client going away aborts the manager's work through an AbortSignal.
 */
import type { ServerResponse } from 'node:http';
import {
  checkQuery,
  errorBody,
  queryCount,
  queryFlag,
  sendJson,
} from './http.ts';
import type { RequestContext, Route } from './route.ts';

async function logs({ res, query, params, deps }: RequestContext) {
  checkQuery(query, ['follow', 'tail']);
  const follow = queryFlag(query, 'follow');
  const tail = queryCount(query, 'tail');
  const ref = params.ref!;
  const { id } = deps.manager.get(ref);

  const signal = abortOnClose(res);
  const lines = deps.manager.logs(ref, { follow, tail, signal });
  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
  });
  res.flushHeaders();
  try {
    await streamLines(res, lines, signal);
  } catch (error) {
    // The status is sent; the last line carries the error instead.
    if (!signal.aborted) res.write(`${JSON.stringify(errorBody(error))}\n`);
    deps.log.warn({ err: error, instance: id }, 'log stream failed');
  }
  res.end();
}

/**
 * Writes one JSON line per item, waiting for the client to drain what it
 * has before taking the next line, so a slow reader loses nothing and
 * the daemon buffers at most one socket's worth.
 */
async function streamLines(
  res: ServerResponse,
  lines: AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  for await (const line of lines) {
    if (signal.aborted) return;
    if (!res.write(`${JSON.stringify(line)}\n`)) await drained(res);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** A signal that fires when the client leaves before the answer ends. */
function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

async function wait({ res, query, params, deps }: RequestContext) {
  checkQuery(query, []);
  const signal = abortOnClose(res);
  const exitCode = await deps.manager.wait(params.ref!, signal);
  if (!signal.aborted) sendJson(res, 200, { exitCode });
}

export const STREAM_ROUTES: Route[] = [
  { method: 'GET', path: '/v1/instances/{ref}/logs', handle: logs },
  { method: 'GET', path: '/v1/instances/{ref}/wait', handle: wait },
];
