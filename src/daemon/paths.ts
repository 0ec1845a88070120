/**
 * Where the daemon keeps its state. Everything lives under AEGIS_HOME
 * (default `~/.aegis`), a directory only its owner may enter, so the
 * socket, the database and the instance directories are private to them.
 */
import os from 'node:os';
import path from 'node:path';
import { AegisError } from '../errors.ts';

export interface AegisPaths {
  home: string;
  socket: string;
  pidFile: string;
  database: string;
  daemonLog: string;
  instancesDir: string;
}

/** Linux refuses unix socket paths past 107 bytes (sun_path is 108). */
const MAX_SOCKET_PATH_BYTES = 107;

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): AegisPaths {
  const home = path.resolve(
    env.AEGIS_HOME || path.join(os.homedir(), '.aegis'),
  );
  const socket = path.join(home, 'aegisd.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `AEGIS_HOME ${home} is too long for a unix socket path ` +
        `(${socket} is over ${MAX_SOCKET_PATH_BYTES} bytes); ` +
        'set AEGIS_HOME to a shorter directory',
    );
  }
  return {
    home,
    socket,
    pidFile: path.join(home, 'aegisd.pid'),
    database: path.join(home, 'state.db'),
    daemonLog: path.join(home, 'aegisd.log'),
    instancesDir: path.join(home, 'instances'),
  };
}

/** The directory of one instance's files (disks, logs, VMM sockets). */
export function instanceDir(paths: AegisPaths, id: string): string {
  return path.join(paths.instancesDir, id);
}
