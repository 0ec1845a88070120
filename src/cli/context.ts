/** What every command shares: trailing arguments and the exit status. */
import type { Command } from 'commander';
import { AegisError } from '../errors.ts';

export interface CliContext {
  /** The arguments after the first `--`, or null when there was none. */
  passthrough: string[] | null;
  /** The status main() returns when no error was thrown. */
  exitStatus: number;
}

export function splitPassthrough(argv: string[]): {
  args: string[];
  passthrough: string[] | null;
} {
  const at = argv.indexOf('--');
  if (at < 0) return { args: argv, passthrough: null };
  return { args: argv.slice(0, at), passthrough: argv.slice(at + 1) };
}

const RUNS_A_PROGRAM = new WeakSet<Command>();

/** Marks a command that takes the program to run after `--`. */
export function takesPassthrough(command: Command): Command {
  RUNS_A_PROGRAM.add(command);
  return command;
}

/** Refuses `-- ARG…` on a command that runs no program. */
export function checkPassthrough(context: CliContext, command: Command): void {
  if (context.passthrough === null || RUNS_A_PROGRAM.has(command)) return;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `\`${commandPath(command)}\` takes no arguments after --; remove ` +
      `"-- ${context.passthrough.join(' ')}"`,
  );
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) {
    names.unshift(at.name());
  }
  return names.join(' ');
}

/** The workload's exit status as a shell would report it. */
export function statusOf(result: {
  exitCode?: number;
  signal?: number;
}): number {
  if (result.exitCode !== undefined) return result.exitCode;
  return 128 + (result.signal ?? 0);
}
