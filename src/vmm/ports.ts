import net from 'node:net';
import type { PortForward } from './backend.ts';

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Gives every forward with host port 0 a free port. The port is free when
 * chosen, not reserved: the caller retries when the VMM cannot bind it.
 */
export async function assignHostPorts(
  forwards: readonly PortForward[],
): Promise<PortForward[]> {
  const assigned: PortForward[] = [];
  for (const forward of forwards) {
    const hostPort =
      forward.hostPort === 0 ? await findFreePort() : forward.hostPort;
    assigned.push({ guestPort: forward.guestPort, hostPort });
  }
  return assigned;
}
