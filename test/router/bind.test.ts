import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import { Router } from '../../src/router/index.ts';
import {
  closeServer,
  fixedTarget,
  LOOPBACK,
  listenOnFreePort,
} from './helpers.ts';

describe('binding the host port', () => {
  it('rejects with CONFLICT naming the address when the port is held', async () => {
    const holder = net.createServer();
    const heldPort = await listenOnFreePort(holder);
    const router = new Router();

    await assert.rejects(
      router.listen({
        bindHost: LOOPBACK,
        hostPort: heldPort,
        protocol: 'http',
        target: fixedTarget(1),
      }),
      (error) =>
        isAegisError(error, 'CONFLICT') &&
        error.message.includes(`${LOOPBACK}:${heldPort}`),
    );
    await router.close();
    await closeServer(holder);
  });

  it('rejects invalid options with INVALID_ARGUMENT', async () => {
    const router = new Router();
    const base = {
      bindHost: LOOPBACK,
      hostPort: 0,
      protocol: 'http' as const,
      target: fixedTarget(1),
    };

    await assert.rejects(
      router.listen({ ...base, hostPort: 70_000 }),
      (error) => isAegisError(error, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(
      router.listen({ ...base, protocol: 'udp' as 'tcp' }),
      (error) => isAegisError(error, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(
      router.listen({ ...base, retry: { timeoutMs: -1 } }),
      (error) => isAegisError(error, 'INVALID_ARGUMENT'),
    );
  });
});
