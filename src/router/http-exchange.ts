import type { IncomingMessage, ServerResponse } from 'node:http';
import { beginActivity } from './activity.ts';
import { answerResponse } from './answers.ts';
import { rewriteRequestHeaders } from './headers.ts';
import { ProxyHandler, type Settled } from './proxy-handler.ts';
import {
  type AttemptResult,
  type GiveUp,
  retryUntilDeadline,
} from './retry.ts';
import type { ListenerStats } from './stats.ts';
import type { RetryPolicy, RouteTarget, UpstreamAddress } from './types.ts';
import type { UpstreamPools } from './upstream-pool.ts';

export interface HttpContext {
  target: RouteTarget;
  policy: RetryPolicy;
  pools: UpstreamPools;
  stats: ListenerStats;
}

/** Proxies one request: wake, attempts until one sticks, then stream. */
export function proxyRequest(
  context: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const { stats } = context;
  const endActivity = beginActivity(context.target, stats);
  const client = new AbortController();
  let handler: ProxyHandler | null = null;

  stats.counters.requests++;
  res.once('close', () => {
    endActivity();
    if (res.writableFinished) return;
    stats.counters.clientAborts++;
    const reason = new Error('client closed the connection');
    client.abort(reason);
    handler?.cancel(reason);
  });

  const headers = rewriteRequestHeaders(req.rawHeaders, {
    remoteAddress: req.socket.remoteAddress,
    upgrading: false,
  });
  const attempt = (address: UpstreamAddress) =>
    new Promise<AttemptResult<Settled>>((resolve) => {
      handler = new ProxyHandler(res, (result) => {
        noteOutcome(context.pools, address, result);
        resolve(result);
      });
      dispatch(context, address, req, headers, handler);
    });

  retryUntilDeadline(context.target, context.policy, client.signal, attempt, {
    onRetry: () => stats.counters.retries++,
  }).then((outcome) => {
    if (outcome.kind === 'done') finishAttempt(context, res, outcome.value);
    else giveUp(context, res, outcome);
  });
}

function dispatch(
  context: HttpContext,
  address: UpstreamAddress,
  req: IncomingMessage,
  headers: string[],
  handler: ProxyHandler,
): void {
  // undici reports its own failures, synchronous ones included, through
  // the handler's onResponseError.
  context.pools.poolFor(address).dispatch(
    {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body: hasBody(req) ? req : null,
    },
    handler,
  );
}

function noteOutcome(
  pools: UpstreamPools,
  address: UpstreamAddress,
  result: AttemptResult<Settled>,
): void {
  if (result.kind !== 'done') return;
  if (result.value === 'responding') pools.markAnswered(address);
  else if (result.value === 502) pools.markFailed();
}

/** A request carries a body when framed for one (RFC 9112 §6.3). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

function finishAttempt(
  context: HttpContext,
  res: ServerResponse,
  settled: Settled,
): void {
  const { counters } = context.stats;
  if (settled === 'responding') {
    context.stats.markReachable();
    return;
  }
  if (settled === 502) counters.badGateway++;
  else counters.gatewayTimeout++;
  answerResponse(res, settled);
}

function giveUp(
  context: HttpContext,
  res: ServerResponse,
  outcome: GiveUp,
): void {
  const { stats } = context;
  if (outcome.kind === 'aborted') return;
  if (outcome.kind === 'wake-failed') stats.counters.wakeFailures++;
  stats.counters.unavailable++;
  stats.markUnreachable(outcome.kind);
  const cause = outcome.kind === 'wake-failed' ? outcome.error : undefined;
  answerResponse(res, 503, cause);
}
