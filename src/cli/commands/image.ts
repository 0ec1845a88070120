/** `aegis image pull|load|ls|rm|prune`. */
import { createReadStream } from 'node:fs';
import { Command, Option } from 'commander';
import type { PullEvent } from '../../daemon/client.ts';
import type { ImageView } from '../../daemon/manager.ts';
import { AegisError } from '../../errors.ts';
import { TtyProgress } from '../../images/index.ts';
import { withDaemon } from '../daemon-process.ts';
import {
  ago,
  formatTable,
  OUTPUT_FORMATS,
  type OutputFormat,
} from '../output.ts';

export function imageCommand(): Command {
  return new Command('image')
    .description('manage images: pull, load, list, remove, prune')
    .addCommand(pullCommand())
    .addCommand(loadCommand())
    .addCommand(listCommand())
    .addCommand(removeCommand())
    .addCommand(pruneCommand());
}

function pullCommand(): Command {
  return new Command('pull')
    .description('pull an image from its registry')
    .argument('<ref>', 'image reference, e.g. nginx or ghcr.io/org/app:1.2')
    .action(async (ref: string) => {
      const progress = process.stderr.isTTY
        ? new TtyProgress(process.stderr)
        : undefined;
      const image = await withDaemon((client) =>
        client.pullImage(ref, (event) => show(progress, event)),
      );
      progress?.close();
      process.stdout.write(`${image.digest}\n`);
    });
}

function show(progress: TtyProgress | undefined, event: PullEvent): void {
  if (progress === undefined) return;
  if (event.progress === 'begin')
    progress.begin(event.id, event.totalBytes ?? 0);
  if (event.progress === 'advance')
    progress.advance(event.id, event.bytes ?? 0);
  if (event.progress === 'end') progress.end(event.id, event.state ?? 'done');
}

function loadCommand(): Command {
  return new Command('load')
    .description('load a docker-save archive or an OCI layout tar')
    .option('-i, --input <file>', 'archive to read (default: stdin)')
    .option('-t, --tag <ref>', 'also name the loaded image(s) this')
    .action(async (options: { input?: string; tag?: string }) => {
      const file = options.input;
      if (file === undefined && process.stdin.isTTY) {
        throw new AegisError(
          'INVALID_ARGUMENT',
          'no archive given: pass -i FILE or pipe one on stdin',
        );
      }
      const source =
        file === undefined || file === '-'
          ? process.stdin
          : await openArchive(file);
      const images = await withDaemon((client) =>
        client.loadImage(source, options.tag ?? null),
      );
      for (const image of images) {
        const names =
          image.refs.length > 0 ? image.refs.join(', ') : image.digest;
        process.stdout.write(`Loaded image: ${names}\n`);
      }
    });
}

async function openArchive(file: string) {
  const stream = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', () =>
      reject(
        new AegisError(
          'NOT_FOUND',
          `cannot read the archive ${file}; check the path`,
        ),
      ),
    );
  });
  return stream;
}

const IMAGE_HEADERS = ['REFERENCE', 'IMAGE ID', 'DISK', 'CREATED'];

function listCommand(): Command {
  return new Command('ls')
    .alias('list')
    .description('list images')
    .option('-q, --quiet', 'print image ids only')
    .addOption(
      new Option('--format <format>', 'table, or json (one per line)')
        .choices(OUTPUT_FORMATS)
        .default('table'),
    )
    .action(async (options: { quiet?: boolean; format: OutputFormat }) => {
      const images = await withDaemon((client) => client.listImages());
      if (options.quiet) {
        process.stdout.write(images.map((i) => `${i.digest}\n`).join(''));
      } else if (options.format === 'json') {
        const lines = images.map((i) => `${JSON.stringify(i)}\n`);
        process.stdout.write(lines.join(''));
      } else {
        process.stdout.write(formatTable(IMAGE_HEADERS, rows(images)));
      }
    });
}

function rows(images: ImageView[]): string[][] {
  const now = new Date();
  return images.flatMap((image) => {
    const id = image.digest.replace('sha256:', '').slice(0, 12);
    const size = `${(image.diskBytes / 2 ** 20).toFixed(1)} MiB`;
    const created = image.createdAt === '' ? '' : ago(image.createdAt, now);
    const refs = image.refs.length > 0 ? image.refs : ['<none>'];
    return refs.map((ref) => [ref, id, size, created]);
  });
}

function removeCommand(): Command {
  return new Command('rm')
    .alias('remove')
    .description('remove image references (prune frees the space)')
    .argument('<ref...>', 'references or image ids')
    .action(async (refs: string[]) => {
      await withDaemon(async (client) => {
        for (const ref of refs) {
          const removed = await client.removeImage(ref);
          process.stdout.write(removed.map((r) => `Untagged: ${r}\n`).join(''));
        }
      });
    });
}

function pruneCommand(): Command {
  return new Command('prune')
    .description('delete images and blobs that nothing names or uses')
    .action(async () => {
      const result = await withDaemon((client) => client.pruneImages());
      for (const image of result.removedImages) {
        process.stdout.write(`Deleted: ${image}\n`);
      }
      const freedMib = (result.freedBytes / 2 ** 20).toFixed(1);
      process.stdout.write(`Freed ${freedMib} MiB\n`);
    });
}
