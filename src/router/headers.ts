/**
 * Header rewriting for one proxy hop. Hop-by-hop fields are removed per
 * RFC 9110 §7.6.1 (Connection, the fields it names, and the fields known
 * to be hop-by-hop); forwarding fields are added per RFC 7239 and as the
 * de-facto X-Forwarded-* set; Via is added per RFC 9110 §7.6.3.
 */

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
  raw: readonly string[],
  facts: ClientFacts,
): string[] {
  const dropped = connectionOptions(raw);
  if (facts.upgrading) dropped.delete('upgrade');
  const out: string[] = [];
  let host = '';
  let forwarded = '';
  let forwardedFor = '';
  let via = '';

  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
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
 * Filters a response's header object (lower-case names, as undici gives
 * them) in place and adds Via. Framing is left to this hop's server.
 */
export function rewriteResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[] | undefined> {
  const listed = headers.connection;
  if (listed !== undefined) {
    for (const name of splitTokens(listed)) delete headers[name];
  }
  for (const name of HOP_BY_HOP) delete headers[name];
  const via = headers.via;
  headers.via = via === undefined ? VIA : join(String(via), VIA);
  return headers;
}

/** Names listed in Connection header fields (RFC 9110 §7.6.1). */
function connectionOptions(raw: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const name of splitTokens(raw[i + 1]!)) names.add(name);
  }
  return names;
}

function splitTokens(value: string | string[]): string[] {
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}

/** One forwarded-element of RFC 7239 §4 for this hop. */
function forwardedElement(client: string, host: string): string {
  // RFC 7239 §6: an IPv6 node is bracketed, which needs quoting.
  const node = client.includes(':') ? `"[${client}]"` : client || 'unknown';
  const parts = [`for=${node}`];
  if (host !== '') parts.push(`host=${tokenOrQuoted(host)}`);
  parts.push('proto=http');
  return parts.join(';');
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
