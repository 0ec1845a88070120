import type { Server } from 'node:net';
import { AegisError } from '../errors.ts';

/**
 * Binds a server, turning the OS's refusal into an error the daemon can
 * act on: CONFLICT when another process holds the port, so the instance
 * is refused at creation rather than failing on its first connection.
 */
export function bindServer(
  server: Server,
  host: string,
  port: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(describeBindError(error, host, port));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // exclusive: a port held by another process must fail here, not be
    // shared through the cluster module's handle passing.
    server.listen({ host, port, exclusive: true });
  });
}

function describeBindError(
  error: NodeJS.ErrnoException,
  host: string,
  port: number,
): AegisError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const options = { cause: error };
  switch (error.code) {
    case 'EADDRINUSE':
      return new AegisError(
        'CONFLICT',
        `cannot listen on ${where}: another process holds the port; ` +
          'pick another host port or stop that process',
        options,
      );
    case 'EACCES':
      return new AegisError(
        'INVALID_ARGUMENT',
        `cannot listen on ${where}: permission denied; ` +
          'ports below 1024 need privileges, pick a higher host port',
        options,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new AegisError(
        'INVALID_ARGUMENT',
        `cannot listen on ${where}: ${host} is not an address of this host`,
        options,
      );
    default:
      return new AegisError(
        'INTERNAL',
        `cannot listen on ${where}: ${error.message}`,
        options,
      );
  }
}
