import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { LogStore } from '../../src/daemon/logs/log-store.ts';

describe('LogStore', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aegis-logs-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('lets a slow follower read 100,000 lines without losing one', async () => {
    const store = new LogStore(path.join(root, 'a'), {
      maxSegmentBytes: 1024 * 1024,
      maxSegments: 16,
    });
    const abort = new AbortController();
    const seen: number[] = [];
    const follower = (async () => {
      for await (const line of store.read({
        tail: null,
        follow: true,
        signal: abort.signal,
      })) {
        seen.push(Number(line.line.slice(5)));
        // A slow reader: yield to the writer every few lines.
        if (seen.length % 1000 === 0) await new Promise(setImmediate);
        if (seen.length === 100_000) abort.abort();
      }
    })();
    for (let i = 1; i <= 100_000; i++) {
      store.append('stdout', `line ${i}`);
      if (i % 5000 === 0) await new Promise(setImmediate);
    }
    await follower;
    assert.equal(seen.length, 100_000);
    assert.ok(seen.every((value, index) => value === index + 1));
    assert.ok(readdirSync(store.dir).length > 1, 'never rotated');
    store.close();
  });

  it('keeps a bounded number of segments and numbers on after reopening', async () => {
    const dir = path.join(root, 'b');
    const store = new LogStore(dir, { maxSegmentBytes: 4096, maxSegments: 3 });
    for (let i = 0; i < 2000; i++) store.append('stderr', `x${i}`);
    store.close();
    assert.equal(readdirSync(dir).length, 3);
    const reopened = new LogStore(dir, {
      maxSegmentBytes: 4096,
      maxSegments: 3,
    });
    assert.equal(reopened.lastSeq, 2000);
    reopened.append('stdout', 'after restart');
    const tail = [];
    for await (const line of reopened.read({ tail: 2, follow: false })) {
      tail.push(line);
    }
    assert.deepEqual(
      tail.map((line) => [line.seq, line.line]),
      [
        [2000, 'x1999'],
        [2001, 'after restart'],
      ],
    );
    reopened.close();
  });
});
