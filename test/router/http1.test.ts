import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyReader } from '../../src/router/http1/body.ts';
import {
  requestFraming,
  responseFraming,
} from '../../src/router/http1/framing.ts';
import {
  HeadError,
  parseRequestHead,
  parseResponseHead,
} from '../../src/router/http1/head.ts';

/** The status a request head is refused with, or 'ok'. */
function requestVerdict(text: string): number | 'ok' {
  try {
    requestFraming(parseRequestHead(text));
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof HeadError);
    return error.status;
  }
}

/** Scans `bytes` fed in pieces of `step`; returns the end and payload. */
function scanInSteps(reader: BodyReader, bytes: Buffer, step: number) {
  const payload: Buffer[] = [];
  let consumed = 0;
  for (let at = 0; at < bytes.length && !reader.done; at += step) {
    const piece = bytes.subarray(at, at + step);
    const { end } = reader.scan(piece, 0, (data) => payload.push(data));
    consumed += end;
  }
  return { consumed, payload: Buffer.concat(payload).toString() };
}

describe('HTTP/1.1 heads', () => {
  it('parses a request line and keeps field names and order', () => {
    const head = parseRequestHead(
      'POST /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Two: 2\r\nx-two: 3',
    );

    assert.equal(head.method, 'POST');
    assert.equal(head.target, '/a?b=1');
    assert.equal(head.minor, 1);
    assert.deepEqual(head.rawHeaders, [
      'Host',
      'x',
      'X-Two',
      '2',
      'x-two',
      '3',
    ]);
    assert.deepEqual(head.names, ['host', 'x-two', 'x-two']);
  });

  it('refuses the field forms other parsers read differently', () => {
    const line = 'GET / HTTP/1.1\r\nHost: x\r\n';
    assert.equal(requestVerdict(`${line}X-A : 1`), 400, 'space before colon');
    assert.equal(requestVerdict(`${line}X-A: 1\r\n folded`), 400, 'obs-fold');
    assert.equal(requestVerdict(`${line}X-A: 1\nX-B: 2`), 400, 'bare LF');
    assert.equal(requestVerdict(`${line}X-A: 1\rX-B: 2`), 400, 'bare CR');
    assert.equal(requestVerdict(`${line}X-A: a\0b`), 400, 'NUL');
    assert.equal(requestVerdict(`${line}: empty`), 400, 'empty name');
    assert.equal(requestVerdict('GET  / HTTP/1.1\r\nHost: x'), 400);
    assert.equal(requestVerdict('GET / HTTP/2.0\r\nHost: x'), 505);
    assert.equal(requestVerdict('GET / HTTP/1.1'), 'ok');
  });

  it('refuses ambiguous request framing (RFC 9112 §6.1, §11.2)', () => {
    const start = 'POST / HTTP/1.1\r\nHost: x\r\n';
    const both = 'Transfer-Encoding: chunked\r\nContent-Length: 3';
    assert.equal(requestVerdict(start + both), 400);
    assert.equal(
      requestVerdict(`${start}Content-Length: 3\r\nContent-Length: 4`),
      400,
    );
    assert.equal(requestVerdict(`${start}Content-Length: +3`), 400);
    assert.equal(requestVerdict(`${start}Content-Length: 3, 3`), 400);
    assert.equal(requestVerdict(`${start}Transfer-Encoding: gzip`), 501);
    assert.equal(
      requestVerdict(`${start}Transfer-Encoding: chunked, chunked`),
      501,
    );
    assert.equal(
      requestVerdict('POST / HTTP/1.0\r\nTransfer-Encoding: chunked'),
      400,
    );
    assert.equal(
      requestVerdict(`${start}Content-Length: 3\r\ncontent-length: 3`),
      'ok',
    );
  });

  it('frames responses by request method, status and fields', () => {
    const frame = (text: string, method = 'GET') =>
      responseFraming(parseResponseHead(text), method);

    assert.deepEqual(frame('HTTP/1.1 200 OK\r\nContent-Length: 5'), {
      kind: 'length',
      bytes: 5,
    });
    assert.deepEqual(frame('HTTP/1.1 200 OK\r\nContent-Length: 5', 'HEAD'), {
      kind: 'none',
    });
    assert.deepEqual(frame('HTTP/1.1 304 Not Modified\r\nContent-Length: 5'), {
      kind: 'none',
    });
    assert.deepEqual(frame('HTTP/1.1 200 OK'), { kind: 'close' });
    assert.deepEqual(
      frame(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9',
      ),
      { kind: 'chunked' },
    );
    assert.throws(
      () => frame('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip'),
      HeadError,
    );
    assert.throws(() => parseResponseHead('HTTP/1.1 2000 OK'), HeadError);
    assert.throws(() => parseResponseHead('ICY 200 OK'), HeadError);
    assert.equal(parseResponseHead('HTTP/1.0 204').status, 204);
  });
});

describe('HTTP/1.1 bodies', () => {
  const chunked = Buffer.from(
    '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nNEXT',
  );

  it('finds the end of a chunked body fed one byte at a time', () => {
    for (const step of [1, 3, chunked.length]) {
      const reader = new BodyReader({ kind: 'chunked' }, 400);
      const { consumed, payload } = scanInSteps(reader, chunked, step);

      assert.equal(reader.done, true);
      assert.equal(consumed, chunked.length - 'NEXT'.length, `step ${step}`);
      assert.equal(payload, 'hello world');
    }
  });

  it('refuses malformed chunk framing with the given status', () => {
    const bad = [
      'x\r\n',
      '5\r\nhello!\r\n',
      '5\nhello\r\n',
      `${'f'.repeat(14)}\r\n`,
      '0\r\nX: 1\n\r\n',
    ];
    for (const text of bad) {
      const reader = new BodyReader({ kind: 'chunked' }, 502);
      assert.throws(
        () => reader.scan(Buffer.from(text), 0),
        (error: unknown) => error instanceof HeadError && error.status === 502,
        JSON.stringify(text),
      );
    }
  });

  it('bounds chunk metadata so that a peer cannot make it grow', () => {
    const reader = new BodyReader({ kind: 'chunked' }, 400);
    const extension = Buffer.from(`1;${'e'.repeat(20_000)}`);

    assert.throws(() => reader.scan(extension, 0), HeadError);
  });

  it('counts a length body and stops at its end', () => {
    const reader = new BodyReader({ kind: 'length', bytes: 4 }, 400);

    assert.deepEqual(reader.scan(Buffer.from('ab'), 0), {
      end: 2,
      done: false,
    });
    assert.deepEqual(reader.scan(Buffer.from('cdGET'), 0), {
      end: 2,
      done: true,
    });
  });
});
