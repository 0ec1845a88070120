#!/usr/bin/env node
import { createInstanceManager } from '../src/daemon/instances/manager.ts';
import { runDaemon } from '../src/daemon/main.ts';
import { createLogger } from '../src/log.ts';

const status = await runDaemon({
  manager: createInstanceManager,
  log: createLogger(),
});
process.exit(status);
