/**
 * How the CLI shows data: docker-like tables with upper-case headers,
 * one JSON object per line for `--format json`, ids alone for `-q`.
 * Data goes to stdout; only errors go to stderr.
 */
import type { Writable } from 'node:stream';
import { formatExpose } from '../daemon/expose.ts';
import type { Instance } from '../daemon/model.ts';

export type OutputFormat = 'table' | 'json';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json'];

/** Columns padded to their widest cell, three spaces apart. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('   ')
      .trimEnd();
  return `${[headers, ...rows].map(line).join('\n')}\n`;
}

export function instanceRow(instance: Instance, now: Date): string[] {
  return [
    instance.id,
    instance.name,
    instance.config.image,
    stateOf(instance),
    activityOf(instance, now),
    nextStepOf(instance, now),
    instance.config.exposes.map(formatExpose).join(', '),
    ago(instance.createdAt, now),
  ];
}

function activityOf(instance: Instance, now: Date): string {
  const at = instance.status.lastActivityAt;
  return at === null ? '-' : ago(at, now);
}

/** `pause in 42s`, `hibernate in 4m`: the idle policy's next step. */
function nextStepOf(instance: Instance, now: Date): string {
  const at = instance.status.nextIdleStepAt;
  if (at === null) return '-';
  const step = instance.status.state === 'paused' ? 'hibernate' : 'pause';
  const idle = instance.config.idle;
  const name =
    step === 'pause' && idle.pauseAfterMs === null ? 'hibernate' : step;
  const seconds = Math.max(
    0,
    Math.round((Date.parse(at) - now.getTime()) / 1000),
  );
  const span = seconds < 120 ? `${seconds}s` : `${Math.round(seconds / 60)}m`;
  return `${name} in ${span}`;
}

export const INSTANCE_HEADERS = [
  'ID',
  'NAME',
  'IMAGE',
  'STATE',
  'ACTIVITY',
  'NEXT',
  'EXPOSES',
  'CREATED',
];

/** `running`, `exited (3)`, `failed: reason`. */
export function stateOf(instance: Instance): string {
  const { state, exitCode } = instance.status;
  if (state === 'exited' && exitCode !== null) return `exited (${exitCode})`;
  return state;
}

/** `5 seconds ago`, `3 minutes ago`, `2 days ago`. */
export function ago(iso: string, now: Date): string {
  const seconds = Math.max(0, (now.getTime() - Date.parse(iso)) / 1000);
  const steps: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, unit] of steps) {
    const count = Math.floor(seconds / size);
    if (count >= 1) return `${count} ${unit}${count === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}

/** Writes and waits for the stream to take more when it is full. */
export async function writeOut(stream: Writable, text: string): Promise<void> {
  if (stream.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
