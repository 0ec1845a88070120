import type { Socket } from 'node:net';

/**
 * Relays bytes both ways between two sockets until both directions are
 * done. Each direction ends on its own: a FIN from one side is passed on
 * as a FIN to the other while the opposite direction keeps flowing (TCP
 * half-close, RFC 9293 §3.6), so both sockets must allow half-open
 * connections. A reset or error on either side resets the other, so a
 * peer never mistakes a broken relay for a clean end of stream.
 *
 * pipe() respects backpressure: a slow reader stops the reads on the other
 * socket instead of letting the router buffer.
 */
export function splice(a: Socket, b: Socket, onDone: () => void): void {
  let open = 2;
  const closed = (socket: Socket, other: Socket): void => {
    // A socket that closes before its peer's FIN was reset or destroyed.
    if (!socket.readableEnded) reset(other);
    open--;
    if (open === 0) onDone();
  };

  a.pipe(b);
  b.pipe(a);
  a.once('close', () => closed(a, b));
  b.once('close', () => closed(b, a));
  // Errors are answered by the close handlers; without a listener an
  // 'error' would be thrown.
  a.on('error', ignore);
  b.on('error', ignore);
}

function ignore(): void {}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || socket.readyState === 'closed') {
    socket.destroy();
    return;
  }
  socket.resetAndDestroy();
}
