/**
 * Claims the daemon's socket: one daemon per AEGIS_HOME. The pid file
 * (created exclusively) is the lock; a pid file whose process is gone and
 * a socket nobody answers on are stale and removed. The socket is made
 * 0600 inside a 0700 home, so only its owner can talk to the daemon.
 */
import {
  chmod,
  mkdir,
  readFile,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import type { Server } from 'node:http';
import net from 'node:net';
import { AegisError } from '../../errors.ts';
import { isProcessAlive } from '../../host/process.ts';
import type { AegisPaths } from '../paths.ts';

/** Creates the home directory, private to its owner. */
export async function prepareHome(paths: AegisPaths): Promise<void> {
  await mkdir(paths.home, { recursive: true, mode: 0o700 });
  await chmod(paths.home, 0o700);
  await mkdir(paths.instancesDir, { recursive: true, mode: 0o700 });
}

/** Writes our pid file, or refuses when a live daemon holds it. */
export async function claimPidFile(paths: AegisPaths): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(paths.pidFile, `${process.pid}\n`, {
        flag: 'wx',
        mode: 0o600,
      });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readPid(paths.pidFile);
    if (holder !== null && isProcessAlive(holder))
      throw alreadyRunning(paths, holder);
    await rm(paths.pidFile, { force: true });
  }
  throw alreadyRunning(paths, null);
}

/** Removes the pid file if it is still ours. */
export async function releasePidFile(paths: AegisPaths): Promise<void> {
  if ((await readPid(paths.pidFile)) === process.pid) {
    await rm(paths.pidFile, { force: true });
  }
}

/** Listens on the socket, removing a stale one first. */
export async function listenOnSocket(
  server: Server,
  paths: AegisPaths,
): Promise<void> {
  if (await socketAnswers(paths.socket)) throw alreadyRunning(paths, null);
  await unlink(paths.socket).catch(() => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(paths.socket, 0o600);
}

/** Whether something accepts connections on the unix socket. */
export function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function readPid(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function alreadyRunning(paths: AegisPaths, pid: number | null): AegisError {
  const who = pid === null ? 'another aegisd' : `aegisd (pid ${pid})`;
  return new AegisError(
    'CONFLICT',
    `${who} is already running for ${paths.home}; stop it with ` +
      '`aegis daemon stop`, or set AEGIS_HOME to another directory ' +
      `(if no aegisd runs, remove ${paths.pidFile})`,
  );
}
