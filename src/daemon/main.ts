/**
 * The daemon: claims AEGIS_HOME, opens the state store, builds the
 * instance manager and serves the API on the unix socket until asked to
 * stop (API, SIGTERM or SIGINT). It never exits the process itself;
 * bin/aegisd.ts does, with the status runDaemon returns.
 */

import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { describeError, isAegisError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  claimPidFile,
  listenOnSocket,
  prepareHome,
  releasePidFile,
} from './api/listen.ts';
import { closeAllConnections, createApiServer } from './api/server.ts';
import type { InstanceManager } from './manager.ts';
import { type AegisPaths, resolvePaths } from './paths.ts';
import { InstanceStore } from './store/store.ts';

/** What the daemon hands the instance manager it builds. */
export interface ManagerContext {
  paths: AegisPaths;
  store: InstanceStore;
  log: Logger;
}

/** Builds the instance manager; the daemon closes it on shutdown. */
export type ManagerFactory = (
  context: ManagerContext,
) => InstanceManager | Promise<InstanceManager>;

export interface DaemonOptions {
  /** AEGIS_HOME; defaults to the environment's, then `~/.aegis`. */
  home?: string;
  manager: ManagerFactory;
  log: Logger;
}

export interface RunningDaemon {
  paths: AegisPaths;
  manager: InstanceManager;
  /** Settles once the daemon has stopped, for whatever reason. */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

export async function startDaemon(
  options: DaemonOptions,
): Promise<RunningDaemon> {
  const env = options.home ? { AEGIS_HOME: options.home } : process.env;
  const paths = resolvePaths(env);
  const { log } = options;
  await prepareHome(paths);
  await claimPidFile(paths);
  const opened: { store?: InstanceStore; manager?: InstanceManager } = {};
  try {
    opened.store = new InstanceStore(paths.database);
    opened.manager = await options.manager({ paths, store: opened.store, log });
    return await serve(paths, opened.store, opened.manager, log);
  } catch (error) {
    await opened.manager?.close().catch(() => {});
    opened.store?.close();
    await releasePidFile(paths);
    throw error;
  }
}

async function serve(
  paths: AegisPaths,
  store: InstanceStore,
  manager: InstanceManager,
  log: Logger,
): Promise<RunningDaemon> {
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= shutdown(server, paths, store, manager, log).then(resolve);
    return stopping;
  };
  const server = createApiServer({
    manager,
    log,
    requestShutdown: () => void stop(),
  });
  await listenOnSocket(server, paths);
  log.info({ socket: paths.socket, pid: process.pid }, 'aegisd listening');
  return { paths, manager, stopped, stop };
}

async function shutdown(
  server: Server,
  paths: AegisPaths,
  store: InstanceStore,
  manager: InstanceManager,
  log: Logger,
): Promise<void> {
  log.info('aegisd stopping');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  try {
    await manager.close();
  } catch (error) {
    log.error({ err: error }, 'the instance manager did not close cleanly');
  }
  closeAllConnections(server);
  await closed;
  store.close();
  await rm(paths.socket, { force: true });
  await releasePidFile(paths);
  log.info('aegisd stopped');
}

/**
 * Runs the daemon until it is asked to stop, and returns the process's
 * exit status: 0 after a clean stop, the error's exit code otherwise.
 */
export async function runDaemon(options: DaemonOptions): Promise<number> {
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(options);
  } catch (error) {
    const code = isAegisError(error) ? error.code : 'INTERNAL';
    process.stderr.write(`aegisd: ${code}: ${describeError(error)}\n`);
    return isAegisError(error) ? error.exitCode : 1;
  }
  const onSignal = (signal: NodeJS.Signals) => {
    options.log.info({ signal }, 'signal received');
    void daemon.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await daemon.stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return 0;
}
