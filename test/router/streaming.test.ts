import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  closeServer,
  fixedTarget,
  LOOPBACK,
  listenOnFreePort,
  type RouterUnderTest,
  startRouter,
} from './helpers.ts';

const TOTAL_BYTES = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 'aegis-');
/** Socket buffers on both hops plus stream buffers; far below 100 MB. */
const MAX_IN_FLIGHT_BYTES = 48 * 1024 * 1024;
const STALL_MS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes TOTAL_BYTES, honouring backpressure; calls onWrite with the count. */
async function writeAll(
  stream: NodeJS.WritableStream,
  onWrite: (bytes: number) => void,
): Promise<void> {
  let written = 0;
  while (written < TOTAL_BYTES) {
    const chunk = CHUNK.subarray(
      0,
      Math.min(CHUNK.length, TOTAL_BYTES - written),
    );
    written += chunk.length;
    onWrite(written);
    if (!stream.write(chunk)) {
      await new Promise((resolve) => stream.once('drain', resolve));
    }
  }
  stream.end();
}

function expectedHash(): string {
  const hash = createHash('sha256');
  for (let sent = 0; sent < TOTAL_BYTES; sent += CHUNK.length)
    hash.update(CHUNK);
  return hash.digest('hex');
}

describe('streaming 100 MB through the router', () => {
  let upstream: http.Server;
  let proxy: RouterUnderTest;
  let uploadStalls = false;
  let upstreamWritten = 0;
  let uploadReceived = 0;

  before(async () => {
    upstream = http.createServer(async (req, res) => {
      if (req.method === 'POST') {
        const hash = createHash('sha256');
        uploadReceived = 0;
        for await (const chunk of req) {
          hash.update(chunk);
          uploadReceived += chunk.length;
          if (uploadStalls && uploadReceived > TOTAL_BYTES / 4) {
            uploadStalls = false;
            await sleep(STALL_MS);
          }
        }
        res.end(`${uploadReceived} ${hash.digest('hex')}`);
        return;
      }
      res.writeHead(200, { 'content-length': TOTAL_BYTES });
      await writeAll(res, (bytes) => {
        upstreamWritten = bytes;
      });
    });
    proxy = await startRouter(fixedTarget(await listenOnFreePort(upstream)));
  });

  after(async () => {
    await proxy.router.close();
    await closeServer(upstream);
  });

  it('streams a download without buffering it', async () => {
    const hash = createHash('sha256');
    let received = 0;
    let maxAheadBytes = 0;

    await new Promise<void>((resolve, reject) => {
      const req = http.get(
        { host: LOOPBACK, port: proxy.port, agent: false },
        async (res) => {
          res.pause();
          for await (const chunk of res) {
            hash.update(chunk);
            received += chunk.length;
            if (
              received > TOTAL_BYTES / 4 &&
              received - chunk.length <= TOTAL_BYTES / 4
            ) {
              // Stop reading: the upstream must stall, not fill the router.
              await sleep(STALL_MS);
              maxAheadBytes = upstreamWritten - received;
            }
          }
          resolve();
        },
      );
      req.on('error', reject);
    });

    assert.equal(received, TOTAL_BYTES);
    assert.equal(hash.digest('hex'), expectedHash());
    assert.ok(
      maxAheadBytes < MAX_IN_FLIGHT_BYTES,
      `upstream ran ${maxAheadBytes} bytes ahead of a stalled client`,
    );
  });

  it('streams an upload without buffering it', async () => {
    uploadStalls = true;
    let clientWritten = 0;
    let maxAheadBytes = 0;
    const sampler = setInterval(() => {
      maxAheadBytes = Math.max(maxAheadBytes, clientWritten - uploadReceived);
    }, 20);

    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: LOOPBACK, port: proxy.port, method: 'POST', agent: false },
        (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      void writeAll(req, (bytes) => {
        clientWritten = bytes;
      });
    });
    clearInterval(sampler);

    assert.equal(reply, `${TOTAL_BYTES} ${expectedHash()}`);
    assert.ok(
      maxAheadBytes < MAX_IN_FLIGHT_BYTES,
      `client ran ${maxAheadBytes} bytes ahead of a stalled upstream`,
    );
  });
});
