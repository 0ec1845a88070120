import { Command, CommanderError } from 'commander';
import { VERSION } from '../daemon/api/version.ts';
import { AegisError, describeError } from '../errors.ts';
import { daemonCommand } from './commands/daemon.ts';
import { execCommand } from './commands/exec.ts';
import { imageCommand } from './commands/image.ts';
import { instanceCommand } from './commands/instance.ts';
import { logsCommand } from './commands/logs.ts';
import { runCommand } from './commands/run.ts';
import {
  type CliContext,
  checkPassthrough,
  splitPassthrough,
} from './context.ts';
import { demoCommand } from './demo.ts';
import { doctorCommand } from './doctor.ts';

export { VERSION };

/**
 * Runs the CLI and returns its exit status; the caller exits. Errors are
 * printed here, once, as `aegis: CODE: message` on stderr. Arguments
 * after the first `--` are the workload's command, given to the commands
 * that take one (`instance start`, `run`, `exec`) and refused by others.
 */
export async function main(argv: string[]): Promise<number> {
  const { args, passthrough } = splitPassthrough(argv);
  const context: CliContext = { passthrough, exitStatus: 0 };
  const program = new Command('aegis')
    .description('Local scale-to-zero microVMs')
    .version(VERSION);
  program.addCommand(instanceCommand(context));
  program.addCommand(imageCommand());
  program.addCommand(runCommand(context));
  program.addCommand(execCommand(context));
  program.addCommand(logsCommand());
  program.addCommand(daemonCommand());
  program.addCommand(demoCommand());
  program.addCommand(doctorCommand());
  configureStrictly(program);
  program.hook('preAction', (_program, action) => {
    checkPassthrough(context, action);
  });
  try {
    await program.parseAsync(args, { from: 'user' });
    return context.exitStatus;
  } catch (error) {
    return report(error);
  }
}

/**
 * Every command throws instead of exiting, refuses unknown options and
 * extra arguments, and reports usage errors in the one error format.
 */
function configureStrictly(command: Command): void {
  command
    .exitOverride()
    .allowUnknownOption(false)
    .allowExcessArguments(false)
    .configureOutput({ outputError: (text, write) => write(usageLine(text)) });
  for (const sub of command.commands) configureStrictly(sub);
}

function usageLine(text: string): string {
  const message = text
    .trim()
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ');
  return `aegis: INVALID_ARGUMENT: ${message} (run with --help for usage)\n`;
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof AegisError) {
    process.stderr.write(`aegis: ${error.code}: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(`aegis: INTERNAL: ${describeError(error)}\n`);
  return 1;
}
