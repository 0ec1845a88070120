/**
 * `aegis run IMAGE [-- ARG…]`: creates and starts an instance, prints its
 * output, waits for the workload and exits with its exit code. With
 * --rm, the instance is removed afterwards. Ctrl-C stops the instance.
 */
import { Command } from 'commander';
import type { DaemonClient } from '../../daemon/client.ts';
import { isAegisError } from '../../errors.ts';
import { type CliContext, takesPassthrough } from '../context.ts';
import { withDaemon } from '../daemon-process.ts';
import {
  addCreateOptions,
  type CreateOptions,
  createBody,
} from './create-options.ts';
import { printLogs } from './logs.ts';

/** How long the output may trail the exit status before we stop reading. */
const OUTPUT_GRACE_MS = 5_000;

interface RunOptions extends CreateOptions {
  rm?: boolean;
}

export function runCommand(context: CliContext): Command {
  const command = new Command('run')
    .description('run an image to completion, printing its output')
    .argument('<image>', 'the image to run')
    .option('--rm', 'remove the instance when its workload exits');
  addCreateOptions(command);
  command.action(async (image: string, options: RunOptions) => {
    const body = createBody(options, image, context.passthrough);
    body.start = true;
    body.autoRemove = options.rm === true;
    context.exitStatus = await withDaemon(async (client) => {
      const instance = await client.createInstance(body);
      return runToExit(client, instance.id, options.rm === true);
    });
  });
  return takesPassthrough(command);
}

async function runToExit(
  client: DaemonClient,
  id: string,
  remove: boolean,
): Promise<number> {
  const output = new AbortController();
  const failed: { error?: unknown } = {};
  const printing = printLogs(client, id, {
    follow: true,
    tail: null,
    signal: output.signal,
  }).catch((error) => {
    if (output.signal.aborted || isAegisError(error, 'NOT_FOUND')) return;
    failed.error = error;
  });
  const stopOnInterrupt = () => void client.act(id, 'stop').catch(() => {});
  process.on('SIGINT', stopOnInterrupt);
  try {
    const exitCode = await client.wait(id);
    const grace = setTimeout(() => output.abort(), OUTPUT_GRACE_MS);
    await printing;
    clearTimeout(grace);
    if (failed.error !== undefined) throw failed.error;
    return exitCode;
  } finally {
    process.off('SIGINT', stopOnInterrupt);
    output.abort();
    if (remove) await removeQuietly(client, id);
  }
}

/** The daemon may have removed it already (autoRemove). */
async function removeQuietly(client: DaemonClient, id: string): Promise<void> {
  try {
    await client.removeInstance(id, true);
  } catch (error) {
    if (!isAegisError(error, 'NOT_FOUND')) throw error;
  }
}
