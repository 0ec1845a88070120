/**
 * `--expose [IP:]HOST:GUEST[/http|/tcp]`: static port mappings fixed when
 * an instance is created. IP defaults to loopback, the protocol to http.
 */
import net from 'node:net';
import { AegisError } from '../errors.ts';
import type { Expose, ExposeProtocol } from './model.ts';

export const DEFAULT_BIND_HOST = '127.0.0.1';
export const EXPOSE_FORM =
  '[IP:]HOST:GUEST[/http|/tcp], e.g. 8080:7777 or 0.0.0.0:8443:443/tcp';

/** Why an instance's exposes cannot be changed, and what to do. */
export const EXPOSES_FIXED =
  'exposes are fixed at creation; create a new instance to change them';

const PROTOCOLS: readonly ExposeProtocol[] = ['http', 'tcp'];
const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Parses one spec; INVALID_ARGUMENT names the spec and the right form. */
export function parseExpose(rawSpec: string): Expose {
  const [address, protocol] = splitProtocol(rawSpec);
  const [bindHost, rawHostPort, rawGuestPort] = splitAddress(rawSpec, address);
  return {
    bindHost: checkBindHost(rawSpec, bindHost),
    hostPort: parsePort(rawSpec, 'host', rawHostPort),
    guestPort: parsePort(rawSpec, 'guest', rawGuestPort),
    protocol,
  };
}

/** Checks a parsed expose (as an API object) the same way. */
export function checkExpose(expose: Expose): Expose {
  const spec = formatExpose(expose);
  checkBindHost(spec, expose.bindHost);
  for (const [side, port] of [
    ['host', expose.hostPort],
    ['guest', expose.guestPort],
  ] as const) {
    parsePort(spec, side, String(port));
  }
  return expose;
}

/** Refuses two exposes that would bind the same host port. */
export function checkExposes(exposes: readonly Expose[]): Expose[] {
  exposes.forEach((expose, index) => {
    const clash = exposes.slice(0, index).find((e) => overlaps(e, expose));
    if (clash) {
      throw new AegisError(
        'INVALID_ARGUMENT',
        `exposes "${formatExpose(clash)}" and "${formatExpose(expose)}" ` +
          `both bind host port ${expose.hostPort}; give each a different ` +
          'host port',
      );
    }
  });
  return [...exposes];
}

/** The canonical spec: `127.0.0.1:8080:7777/http`, `[::1]:80:80/tcp`. */
export function formatExpose(expose: Expose): string {
  const host = net.isIPv6(expose.bindHost)
    ? `[${expose.bindHost}]`
    : expose.bindHost;
  return `${host}:${expose.hostPort}:${expose.guestPort}/${expose.protocol}`;
}

/** Whether two exposes would bind the same host address and port. */
export function overlaps(a: Expose, b: Expose): boolean {
  if (a.hostPort !== b.hostPort) return false;
  return (
    a.bindHost === b.bindHost ||
    WILDCARDS.has(a.bindHost) ||
    WILDCARDS.has(b.bindHost)
  );
}

function splitProtocol(rawSpec: string): [string, ExposeProtocol] {
  const slash = rawSpec.lastIndexOf('/');
  if (slash < 0) return [rawSpec, 'http'];
  const protocol = rawSpec.slice(slash + 1);
  if (!PROTOCOLS.includes(protocol as ExposeProtocol)) {
    throw invalid(
      rawSpec,
      `protocol "${protocol}" is not supported; use /http or /tcp`,
    );
  }
  return [rawSpec.slice(0, slash), protocol as ExposeProtocol];
}

function splitAddress(
  rawSpec: string,
  address: string,
): [string, string, string] {
  const bracketed = /^\[([^\]]*)\]:([^:]*):([^:]*)$/.exec(address);
  if (bracketed) return [bracketed[1]!, bracketed[2]!, bracketed[3]!];
  const parts = address.split(':');
  if (parts.length === 2) return [DEFAULT_BIND_HOST, parts[0]!, parts[1]!];
  if (parts.length === 3) return [parts[0]!, parts[1]!, parts[2]!];
  throw invalid(rawSpec, `expected ${EXPOSE_FORM}`);
}

function checkBindHost(rawSpec: string, host: string): string {
  if (net.isIPv4(host) || net.isIPv6(host)) return host;
  throw invalid(
    rawSpec,
    `"${host}" is not an IP address; use an IPv4 address such as ` +
      '127.0.0.1 or 0.0.0.0, or an IPv6 address in brackets such as [::1]',
  );
}

function parsePort(rawSpec: string, side: string, rawPort: string): number {
  if (!/^[0-9]+$/.test(rawPort)) {
    throw invalid(
      rawSpec,
      `${side} port "${rawPort}" is not a number; ` + `expected ${EXPOSE_FORM}`,
    );
  }
  const port = Number(rawPort);
  if (port >= 1 && port <= 65535) return port;
  throw invalid(
    rawSpec,
    `${side} port ${rawPort} is out of range; use 1-65535`,
  );
}

function invalid(rawSpec: string, why: string): AegisError {
  return new AegisError(
    'INVALID_ARGUMENT',
    `invalid expose "${rawSpec}": ${why}`,
  );
}
