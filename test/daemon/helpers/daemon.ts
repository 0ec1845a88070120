/** Starts a real daemon (real socket, real SQLite) in a temporary home. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DaemonClient } from '../../../src/daemon/client.ts';
import {
  type ManagerFactory,
  type RunningDaemon,
  startDaemon,
} from '../../../src/daemon/main.ts';
import { silentLogger } from '../../../src/log.ts';
import { MemoryManager } from './memory-manager.ts';

export interface TestDaemon {
  home: string;
  daemon: RunningDaemon;
  manager: MemoryManager;
  client: DaemonClient;
  close(): Promise<void>;
}

export function tempHome(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'aegis-'));
}

export async function startTestDaemon(
  home?: string,
  factory?: ManagerFactory,
): Promise<TestDaemon> {
  const dir = home ?? (await tempHome());
  let manager: MemoryManager | undefined;
  const daemon = await startDaemon({
    home: dir,
    log: silentLogger,
    manager:
      factory ??
      (({ store }) => {
        manager = new MemoryManager(store);
        return manager;
      }),
  });
  const client = new DaemonClient(daemon.paths.socket);
  return {
    home: dir,
    daemon,
    manager: manager!,
    client,
    async close() {
      client.close();
      await daemon.stop();
      if (!home) await rm(dir, { recursive: true, force: true });
    },
  };
}
