/** `aegis logs`: an instance's output, each line to stdout or stderr. */
import { Command } from 'commander';
import type { DaemonClient, LogOptions } from '../../daemon/client.ts';
import { withDaemon } from '../daemon-process.ts';
import { writeOut } from '../output.ts';
import { parseInteger } from '../parse.ts';

export function logsCommand(): Command {
  return new Command('logs')
    .description("print an instance's output")
    .argument('<name>', 'name or id')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('-n, --tail <lines>', 'only the last N lines', (raw) =>
      parseInteger('--tail', raw, 0, 1_000_000_000),
    )
    .action(
      async (ref: string, options: { follow?: boolean; tail?: number }) => {
        const query = {
          follow: options.follow === true,
          tail: options.tail ?? null,
        };
        await withDaemon((client) => printLogs(client, ref, query));
      },
    );
}

/** Copies log lines to this process's stdout and stderr, in order. */
export async function printLogs(
  client: DaemonClient,
  ref: string,
  options: LogOptions,
): Promise<void> {
  for await (const line of client.logs(ref, options)) {
    const stream = line.stream === 'stderr' ? process.stderr : process.stdout;
    await writeOut(stream, `${line.line}\n`);
  }
}
