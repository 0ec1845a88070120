/**
 * `aegis exec [-i] [-t] NAME -- CMD…`: runs a process in an instance over
 * the daemon's exec stream. Its exit code becomes the CLI's (128 + N when
 * a signal N ended it).
 */
import { Command } from 'commander';
import type { ExecBody } from '../../daemon/api/schemas.ts';
import { AegisError } from '../../errors.ts';
import { type CliContext, statusOf, takesPassthrough } from '../context.ts';
import { withDaemon } from '../daemon-process.ts';
import { runExecStream } from '../exec-stream.ts';
import { collect, parseEnv, parseUser } from '../parse.ts';
import { enterRawMode, terminalSize, watchResize } from '../terminal.ts';

interface ExecOptions {
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  workdir?: string;
  user?: { uid: number; gid?: number };
}

export function execCommand(context: CliContext): Command {
  const command = new Command('exec')
    .description('run a command in an instance: aegis exec NAME -- CMD…')
    .argument('<name>', 'name or id')
    .option('-i, --interactive', "send this terminal's stdin to the command")
    .option('-t, --tty', 'give the command a terminal')
    .option(
      '-e, --env <KEY=VALUE>',
      'set an environment variable (repeatable)',
      collect((raw) => parseEnv('--env', raw)),
    )
    .option('-w, --workdir <dir>', 'working directory in the instance')
    .option(
      '-u, --user <uid[:gid]>',
      'run as this user (default: root)',
      (raw) => parseUser('--user', raw),
    )
    .action(async (ref: string, options: ExecOptions) => {
      const spec = execSpec(context.passthrough, options);
      const status = await withDaemon((client) => {
        const restore = options.tty ? enterRawMode() : () => {};
        return runExecStream(client, ref, spec, {
          stdin: options.interactive === true,
          watchResize: options.tty ? watchResize : undefined,
        }).finally(restore);
      });
      context.exitStatus = statusOf(status);
    });
  return takesPassthrough(command);
}

function execSpec(argv: string[] | null, options: ExecOptions): ExecBody {
  if (argv === null || argv.length === 0) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      'exec needs the command after --, e.g. aegis exec web -- ls /',
    );
  }
  const size = options.tty ? terminalSize() : undefined;
  return {
    argv,
    env: options.env,
    cwd: options.workdir,
    uid: options.user?.uid,
    gid: options.user?.gid ?? options.user?.uid,
    tty: options.tty === true,
    stdin: options.interactive === true,
    rows: size?.rows,
    cols: size?.cols,
  };
}
