/** `aegis instance …`: everything about instances. */
import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { execCommand } from './exec.ts';
import { instanceStartCommand } from './instance-start.ts';
import { lifecycleCommands } from './lifecycle.ts';
import { inspectCommand, listCommand } from './list.ts';
import { logsCommand } from './logs.ts';

export function instanceCommand(context: CliContext): Command {
  const command = new Command('instance').description(
    'create, start, list, inspect, stop and remove instances',
  );
  const subcommands = [
    instanceStartCommand(context),
    listCommand(),
    inspectCommand(),
    ...lifecycleCommands(),
    logsCommand(),
    execCommand(context),
  ];
  for (const sub of subcommands) command.addCommand(sub);
  return command;
}
