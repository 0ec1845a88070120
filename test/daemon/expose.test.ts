import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkExposes,
  formatExpose,
  parseExpose,
} from '../../src/daemon/expose.ts';
import { AegisError } from '../../src/errors.ts';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AegisError);
    assert.equal(error.code, 'INVALID_ARGUMENT');
    return error.message;
  }
  assert.fail('expected INVALID_ARGUMENT');
}

const FORM =
  'expected [IP:]HOST:GUEST[/http|/tcp], e.g. 8080:7777 or ' +
  '0.0.0.0:8443:443/tcp';

describe('parseExpose', () => {
  it('binds loopback and speaks http unless told otherwise', () => {
    assert.deepEqual(parseExpose('8080:7777'), {
      bindHost: '127.0.0.1',
      hostPort: 8080,
      guestPort: 7777,
      protocol: 'http',
    });
  });

  it('takes an IPv4 address, the wildcard, and a protocol', () => {
    assert.deepEqual(parseExpose('0.0.0.0:443:8443/tcp'), {
      bindHost: '0.0.0.0',
      hostPort: 443,
      guestPort: 8443,
      protocol: 'tcp',
    });
    assert.equal(parseExpose('10.1.2.3:1:65535/http').bindHost, '10.1.2.3');
  });

  it('takes an IPv6 address in brackets', () => {
    const expose = parseExpose('[::1]:8080:80/tcp');
    assert.equal(expose.bindHost, '::1');
    assert.equal(formatExpose(expose), '[::1]:8080:80/tcp');
  });

  it('names the spec and the expected form when the shape is wrong', () => {
    assert.equal(
      refusal(() => parseExpose('8080')),
      `invalid expose "8080": ${FORM}`,
    );
    assert.equal(
      refusal(() => parseExpose('a:b:c:d')),
      `invalid expose "a:b:c:d": ${FORM}`,
    );
  });

  it('refuses ports out of range or not numbers', () => {
    assert.equal(
      refusal(() => parseExpose('8080:0')),
      'invalid expose "8080:0": guest port 0 is out of range; use 1-65535',
    );
    assert.equal(
      refusal(() => parseExpose('70000:80')),
      'invalid expose "70000:80": host port 70000 is out of range; ' +
        'use 1-65535',
    );
    assert.equal(
      refusal(() => parseExpose('http:80')),
      `invalid expose "http:80": host port "http" is not a number; ${FORM}`,
    );
    assert.match(
      refusal(() => parseExpose(':80')),
      /host port "" is not/,
    );
  });

  it('refuses unknown protocols and hosts that are not addresses', () => {
    assert.equal(
      refusal(() => parseExpose('8080:80/udp')),
      'invalid expose "8080:80/udp": protocol "udp" is not supported; ' +
        'use /http or /tcp',
    );
    assert.equal(
      refusal(() => parseExpose('localhost:8080:80')),
      'invalid expose "localhost:8080:80": "localhost" is not an IP ' +
        'address; use an IPv4 address such as 127.0.0.1 or 0.0.0.0, or ' +
        'an IPv6 address in brackets such as [::1]',
    );
    assert.match(
      refusal(() => parseExpose('1.2.3:80:80')),
      /"1.2.3" is not/,
    );
  });
});

describe('checkExposes', () => {
  it('accepts the same port on two distinct addresses', () => {
    const list = ['127.0.0.1:80:80', '127.0.0.2:80:81'].map(parseExpose);
    assert.equal(checkExposes(list).length, 2);
  });

  it('refuses a host port bound twice on the same address', () => {
    const list = ['8080:80', '127.0.0.1:8080:81/tcp'].map(parseExpose);
    assert.equal(
      refusal(() => checkExposes(list)),
      'exposes "127.0.0.1:8080:80/http" and "127.0.0.1:8080:81/tcp" both ' +
        'bind host port 8080; give each a different host port',
    );
  });

  it('refuses a wildcard that overlaps a specific address', () => {
    const list = ['8080:80', '0.0.0.0:8080:81'].map(parseExpose);
    assert.match(
      refusal(() => checkExposes(list)),
      /both bind host port 8080/,
    );
  });
});
