import type { Socket } from 'node:net';
import { beginActivity } from './activity.ts';
import { answerSocket } from './answers.ts';
import { rewriteRequestHeaders } from './headers.ts';
import { fieldLines, type RequestHead } from './http1/head.ts';
import type { GiveUp } from './retry.ts';
import { splice } from './splice.ts';
import { noteTunnelOutcome, openTunnel, type TunnelContext } from './tunnel.ts';

export interface UpgradeContext extends TunnelContext {
  responseHeaderTimeoutMs: number;
}

/**
 * Passes an `Upgrade` request (WebSocket, RFC 6455 §4) through as a raw
 * splice: the rewritten request head goes to a fresh upstream connection,
 * and once the upstream has answered anything, bytes flow both ways
 * untouched. Before that answer a failure is still ours to report: 503 if
 * no attempt got through, 502 if the upstream dropped the request, 504 if
 * it said nothing within the response-header timeout.
 */
export function proxyUpgrade(
  context: UpgradeContext,
  request: RequestHead,
  client: Socket,
  early: Buffer,
): void {
  const { stats } = context;
  const endActivity = beginActivity(context.target, stats);
  const gone = new AbortController();

  stats.counters.requests++;
  stats.counters.upgrades++;
  client.on('error', ignore);
  client.once('close', () => {
    if (!gone.signal.aborted) stats.counters.clientAborts++;
    gone.abort();
  });

  openTunnel(context, gone.signal).then(async (outcome) => {
    if (!noteTunnelOutcome(stats, outcome)) {
      answerGiveUp(client, outcome);
      endActivity();
      return;
    }

    const upstream = outcome.value;
    upstream.write(requestHead(request, client), 'latin1');
    if (early.length > 0) upstream.write(early);

    const answer = await firstAnswer(upstream, context.responseHeaderTimeoutMs);
    if (answer !== 'answered' || client.destroyed) {
      upstream.on('error', ignore);
      upstream.destroy();
      if (answer === 502) stats.counters.badGateway++;
      if (answer === 504) stats.counters.gatewayTimeout++;
      if (answer !== 'answered') answerSocket(client, answer);
      endActivity();
      return;
    }
    splice(client, upstream, endActivity);
  });
}

function answerGiveUp(client: Socket, outcome: GiveUp): void {
  if (outcome.kind === 'aborted') return;
  const cause = outcome.kind === 'wake-failed' ? outcome.error : undefined;
  answerSocket(client, 503, cause);
}

/** The request line and rewritten fields (RFC 9112 §3, §5). */
function requestHead(request: RequestHead, client: Socket): string {
  const fields = rewriteRequestHeaders(request, {
    remoteAddress: client.remoteAddress,
    upgrading: true,
  });
  const line = `${request.method} ${request.target} HTTP/1.1\r\n`;
  return `${line}${fieldLines(fields)}\r\n`;
}

/** Waits for the upstream's first byte, its loss, or the timeout. */
function firstAnswer(
  upstream: Socket,
  timeoutMs: number,
): Promise<'answered' | 502 | 504> {
  return new Promise((resolve) => {
    const timer =
      timeoutMs > 0 ? setTimeout(() => settle(504), timeoutMs) : undefined;
    const onReadable = (): void =>
      settle(upstream.readableLength > 0 ? 'answered' : 502);
    const onGone = (): void => settle(502);
    const settle = (answer: 'answered' | 502 | 504): void => {
      clearTimeout(timer);
      upstream.off('readable', onReadable);
      upstream.off('error', onGone);
      upstream.off('close', onGone);
      resolve(answer);
    };

    upstream.on('readable', onReadable);
    upstream.on('error', onGone);
    upstream.on('close', onGone);
  });
}

function ignore(): void {}
