/** `stop`, `restart`, `pause`, `resume` and `rm` of instances by ref. */
import { Command } from 'commander';
import { DEFAULT_STOP_TIMEOUT_MS } from '../../daemon/api/defaults.ts';
import type { Action } from '../../daemon/client.ts';
import { withDaemon } from '../daemon-process.ts';
import { parseInteger } from '../parse.ts';

const MAX_STOP_SECONDS = 3_600;

function timedCommand(action: 'stop' | 'restart', what: string): Command {
  const seconds = DEFAULT_STOP_TIMEOUT_MS / 1000;
  return new Command(action)
    .description(what)
    .argument('<name...>', 'names or ids')
    .option(
      '-t, --time <seconds>',
      `seconds to wait before killing the workload (default: ${seconds})`,
      (raw) => parseInteger('--time', raw, 0, MAX_STOP_SECONDS),
    )
    .action(async (refs: string[], options: { time?: number }) => {
      const timeoutMs =
        options.time === undefined ? undefined : options.time * 1000;
      await actOnEach(refs, (client, ref) =>
        client.act(ref, action, timeoutMs),
      );
    });
}

function simpleCommand(action: Action, what: string): Command {
  return new Command(action)
    .description(what)
    .argument('<name...>', 'names or ids')
    .action(async (refs: string[]) => {
      await actOnEach(refs, (client, ref) => client.act(ref, action));
    });
}

export function lifecycleCommands(): Command[] {
  return [
    timedCommand('stop', 'stop instances (the workload gets SIGTERM first)'),
    timedCommand('restart', 'stop, then start instances'),
    simpleCommand('pause', 'pause instances (their VMs keep their memory)'),
    simpleCommand('resume', 'resume paused instances'),
    removeCommand(),
  ];
}

function removeCommand(): Command {
  return new Command('rm')
    .alias('remove')
    .description('remove instances and their files')
    .argument('<name...>', 'names or ids')
    .option('-f, --force', 'stop running instances first')
    .action(async (refs: string[], options: { force?: boolean }) => {
      const force = options.force === true;
      await actOnEach(refs, (client, ref) => client.removeInstance(ref, force));
    });
}

/** Acts on each ref in turn, printing each one done; stops at an error. */
async function actOnEach(
  refs: string[],
  act: (
    client: import('../../daemon/client.ts').DaemonClient,
    ref: string,
  ) => Promise<unknown>,
): Promise<void> {
  await withDaemon(async (client) => {
    for (const ref of refs) {
      await act(client, ref);
      process.stdout.write(`${ref}\n`);
    }
  });
}
