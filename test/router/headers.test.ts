import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  rewriteRequestHeaders,
  rewriteResponseHeaders,
} from '../../src/router/headers.ts';

/** Fields as a parsed head carries them. */
function fields(rawHeaders: string[]) {
  const names = rawHeaders
    .filter((_, i) => i % 2 === 0)
    .map((name) => name.toLowerCase());
  return { rawHeaders, names };
}

describe('header rewriting', () => {
  it('brackets and quotes an IPv6 client in Forwarded (RFC 7239 §6)', () => {
    const out = rewriteRequestHeaders(fields(['Host', 'example.test']), {
      remoteAddress: '::1',
      upgrading: false,
    });
    const forwarded = out[out.indexOf('Forwarded') + 1];

    assert.equal(forwarded, 'for="[::1]";host=example.test;proto=http');
  });

  it('appends to an earlier Forwarded and shows mapped IPv4 plainly', () => {
    const out = rewriteRequestHeaders(
      fields(['Forwarded', 'for=192.0.2.1', 'X-Forwarded-Proto', 'https']),
      { remoteAddress: '::ffff:198.51.100.7', upgrading: false },
    );

    assert.equal(
      out[out.indexOf('Forwarded') + 1],
      'for=192.0.2.1, for=198.51.100.7;proto=http',
    );
    assert.equal(out[out.indexOf('X-Forwarded-Proto') + 1], 'http');
    assert.equal(out.filter((name) => name === 'X-Forwarded-Proto').length, 1);
  });

  it('keeps Upgrade and reduces Connection to Upgrade when upgrading', () => {
    const out = rewriteRequestHeaders(
      fields(['Upgrade', 'websocket', 'Connection', 'keep-alive, Upgrade']),
      { remoteAddress: '127.0.0.1', upgrading: true },
    );

    assert.equal(out[out.indexOf('Upgrade') + 1], 'websocket');
    assert.equal(out[out.indexOf('Connection') + 1], 'Upgrade');
  });

  it('drops hop-by-hop response fields and those Connection names', () => {
    const out = rewriteResponseHeaders(
      fields([
        'Connection',
        'x-hop',
        'X-Hop',
        '1',
        'Transfer-Encoding',
        'chunked',
        'Trailer',
        'x-checksum',
        'Content-Type',
        'text/plain',
      ]),
    );

    assert.deepEqual(out, ['Content-Type', 'text/plain', 'Via', '1.1 aegis']);
  });
});
