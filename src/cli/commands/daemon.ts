/** `aegis daemon start|stop|status`. */
import { Command } from 'commander';
import { readPid, socketAnswers } from '../../daemon/api/listen.ts';
import { DaemonClient } from '../../daemon/client.ts';
import { resolvePaths } from '../../daemon/paths.ts';
import { AegisError } from '../../errors.ts';
import { spawnDaemon, stopDaemon } from '../daemon-process.ts';

export function daemonCommand(): Command {
  return new Command('daemon')
    .description('start, stop or check aegisd, the daemon that runs instances')
    .addCommand(
      new Command('start')
        .description('start aegisd in the background')
        .action(start),
    )
    .addCommand(
      new Command('stop')
        .description('stop aegisd (instances hibernate or stop first)')
        .action(stop),
    )
    .addCommand(
      new Command('status')
        .description('say whether aegisd is running')
        .action(status),
    );
}

async function start(): Promise<void> {
  const paths = resolvePaths();
  if (await socketAnswers(paths.socket)) {
    const pid = await readPid(paths.pidFile);
    process.stdout.write(`aegisd is already running (pid ${pid})\n`);
    return;
  }
  const pid = await spawnDaemon(paths);
  process.stdout.write(`aegisd started (pid ${pid}, log ${paths.daemonLog})\n`);
}

async function stop(): Promise<void> {
  const paths = resolvePaths();
  if (!(await socketAnswers(paths.socket))) {
    process.stdout.write('aegisd is not running\n');
    return;
  }
  await stopDaemon(paths);
  process.stdout.write('aegisd stopped\n');
}

async function status(): Promise<void> {
  const paths = resolvePaths();
  if (!(await socketAnswers(paths.socket))) {
    throw new AegisError(
      'DAEMON_UNAVAILABLE',
      `aegisd is not running (nothing answers on ${paths.socket}); ` +
        'start it with `aegis daemon start`',
    );
  }
  const client = new DaemonClient(paths.socket);
  try {
    const { version } = await client.version();
    const pid = await readPid(paths.pidFile);
    process.stdout.write(
      `aegisd is running (pid ${pid}, version ${version}, ` +
        `socket ${paths.socket})\n`,
    );
  } finally {
    client.close();
  }
}
