/** `aegis instance ls` and `aegis instance inspect`. */
import { Command, Option } from 'commander';
import { withDaemon } from '../daemon-process.ts';
import {
  formatTable,
  INSTANCE_HEADERS,
  instanceRow,
  OUTPUT_FORMATS,
  type OutputFormat,
} from '../output.ts';

function formatOption(): Option {
  return new Option('--format <format>', 'table, or json (one per line)')
    .choices(OUTPUT_FORMATS)
    .default('table');
}

export function listCommand(): Command {
  return new Command('ls')
    .alias('list')
    .description('list instances')
    .option('-q, --quiet', 'print ids only')
    .addOption(formatOption())
    .action(async (options: { quiet?: boolean; format: OutputFormat }) => {
      const instances = await withDaemon((client) => client.listInstances());
      if (options.quiet) {
        process.stdout.write(instances.map((i) => `${i.id}\n`).join(''));
      } else if (options.format === 'json') {
        const lines = instances.map((i) => `${JSON.stringify(i)}\n`);
        process.stdout.write(lines.join(''));
      } else {
        const now = new Date();
        const rows = instances.map((i) => instanceRow(i, now));
        process.stdout.write(formatTable(INSTANCE_HEADERS, rows));
      }
    });
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('show instances in full, as JSON')
    .argument('<name...>', 'names or ids')
    .addOption(
      new Option(
        '--format <format>',
        'pretty (an array), or json (one per line)',
      )
        .choices(['pretty', 'json'])
        .default('pretty'),
    )
    .action(async (refs: string[], options: { format: string }) => {
      const instances = await withDaemon((client) =>
        Promise.all(refs.map((ref) => client.getInstance(ref))),
      );
      const text =
        options.format === 'json'
          ? instances.map((i) => `${JSON.stringify(i)}\n`).join('')
          : `${JSON.stringify(instances, null, 2)}\n`;
      process.stdout.write(text);
    });
}
