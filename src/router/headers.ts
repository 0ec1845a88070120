/**
 * Header rewriting for one proxy hop. Hop-by-hop fields are removed per
 * RFC 9110 §7.6.1 (Connection, the fields it names, and the fields known
 * to be hop-by-hop); forwarding fields are added per RFC 7239 and as the
 * de-facto X-Forwarded-* set; Via is added per RFC 9110 §7.6.3.
 */

import type { Fields } from './http1/head.ts';

/** Fields removed in both directions whether or not Connection names them. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);

const VIA = '1.1 aegis';

export interface ClientFacts {
  remoteAddress: string | undefined;
  upgrading: boolean;
}

/**
 * Turns a request's raw header list (name, value, name, value…) into the
 * list sent upstream. When upgrading, Upgrade survives and Connection is
 * reduced to `Upgrade` (RFC 9110 §7.8). Expect is dropped: this hop has
 * already answered `100 Continue` to the client (RFC 9110 §10.1.1).
 */
export function rewriteRequestHeaders(
  fields: Fields,
  facts: ClientFacts,
): string[] {
  const { rawHeaders: raw, names } = fields;
  const dropped = connectionOptions(fields);
  if (facts.upgrading) dropped.delete('upgrade');
  const out: string[] = [];
  let host = '';
  let forwarded = '';
  let forwardedFor = '';
  let via = '';

  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = names[i / 2]!;
    if (lower === 'upgrade' && facts.upgrading) out.push(name, value);
    else if (HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    else if (lower === 'expect') continue;
    else if (lower === 'forwarded') forwarded = join(forwarded, value);
    else if (lower === 'x-forwarded-for')
      forwardedFor = join(forwardedFor, value);
    else if (lower === 'x-forwarded-host' || lower === 'x-forwarded-proto')
      continue;
    else if (lower === 'via') via = join(via, value);
    else {
      if (lower === 'host') host = value;
      out.push(name, value);
    }
  }

  const client = plainAddress(facts.remoteAddress);
  out.push('Forwarded', join(forwarded, forwardedElement(client, host)));
  out.push('X-Forwarded-For', join(forwardedFor, client));
  if (host !== '') out.push('X-Forwarded-Host', host);
  out.push('X-Forwarded-Proto', 'http');
  out.push('Via', join(via, VIA));
  if (facts.upgrading) out.push('Connection', 'Upgrade');
  return out;
}

/**
 * Turns a response's raw header list into the list sent to the client:
 * hop-by-hop fields and those Connection names go, Via is added. Framing
 * fields are the caller's: it drops Content-Length when `dropLength`
 * (a chunked body, RFC 9112 §6.3) and adds its own Transfer-Encoding.
 */
export function rewriteResponseHeaders(
  fields: Fields,
  dropLength = false,
): string[] {
  const { rawHeaders: raw, names } = fields;
  const dropped = connectionOptions(fields);
  const out: string[] = [];
  let via = '';

  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = names[i / 2]!;
    if (HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    if (lower === 'via') via = join(via, raw[i + 1]!);
    else if (dropLength && lower === 'content-length') continue;
    else out.push(name, raw[i + 1]!);
  }
  out.push('Via', join(via, VIA));
  return out;
}

/** Names listed in Connection header fields (RFC 9110 §7.6.1). */
function connectionOptions(fields: Fields): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < fields.names.length; i++) {
    if (fields.names[i] !== 'connection') continue;
    for (const name of splitTokens(fields.rawHeaders[2 * i + 1]!)) {
      names.add(name);
    }
  }
  return names;
}

function splitTokens(value: string): string[] {
  return value
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}

/** The last element built: a connection sends the same one each time. */
const lastElement = { client: '', host: '', element: '' };

/** One forwarded-element of RFC 7239 §4 for this hop. */
function forwardedElement(client: string, host: string): string {
  if (client === lastElement.client && host === lastElement.host) {
    return lastElement.element;
  }
  // RFC 7239 §6: an IPv6 node is bracketed, which needs quoting.
  const node = client.includes(':') ? `"[${client}]"` : client || 'unknown';
  const parts = [`for=${node}`];
  if (host !== '') parts.push(`host=${tokenOrQuoted(host)}`);
  parts.push('proto=http');
  const element = parts.join(';');
  Object.assign(lastElement, { client, host, element });
  return element;
}

/** RFC 7239 §4 values are a token or a quoted-string (RFC 9110 §5.6.4). */
function tokenOrQuoted(value: string): string {
  if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) return value;
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** Shows IPv4 clients of a dual-stack socket as IPv4, not `::ffff:a.b.c.d`. */
function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function join(list: string, value: string): string {
  if (list === '') return value;
  return value === '' ? list : `${list}, ${value}`;
}
