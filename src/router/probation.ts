import net from 'node:net';
import type { UpstreamAddress } from './types.ts';

/**
 * Opens a fresh upstream connection and hands it over only once it has
 * survived `probationMs` without an error or a close.
 *
 * Why: QEMU's user-mode forward accepts the host connection itself, then
 * tries the guest; when no guest process listens it resets the host
 * connection a few ms later, without a byte. Connect success therefore
 * proves nothing. Because nothing is written during the probation, a reset
 * inside it proves that no byte reached a guest process, and the caller may
 * retry freely. Bytes the upstream sends first (server-first protocols) stay
 * buffered in the socket for the caller.
 *
 * Rejects on refusal, on a reset or close during the probation, when the
 * deadline passes, or when the signal aborts.
 */
export interface ProbationOptions {
  address: UpstreamAddress;
  probationMs: number;
  /** Epoch ms after which the attempt fails. */
  deadlineMs: number;
  signal?: AbortSignal;
  /** For relays that pass a FIN on instead of closing (see splice.ts). */
  allowHalfOpen?: boolean;
}

export function connectWithProbation(
  options: ProbationOptions,
): Promise<net.Socket> {
  const { address, probationMs, deadlineMs, signal } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: address.host,
      port: address.port,
      allowHalfOpen: options.allowHalfOpen ?? false,
    });
    let timer: NodeJS.Timeout | undefined;

    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onClose = (): void => fail(new Error('upstream closed in probation'));
    const onAbort = (): void => fail(new Error('connection attempt aborted'));
    const onDeadline = (): void =>
      fail(new Error('upstream connect timed out'));
    const pass = (): void => {
      cleanup();
      socket.pause();
      resolve(socket);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      clearTimeout(deadline);
      socket.off('error', fail);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };

    const deadline = setTimeout(
      onDeadline,
      Math.max(0, deadlineMs - Date.now()),
    );
    socket.setNoDelay(true);
    socket.on('error', fail);
    socket.on('close', onClose);
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) onAbort();
    socket.once('connect', () => {
      timer = setTimeout(pass, probationMs);
    });
  });
}
