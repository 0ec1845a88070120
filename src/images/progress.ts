/** Receives download progress, one id per blob. */
export interface ProgressSink {
  begin(id: string, totalBytes: number): void;
  advance(id: string, bytes: number): void;
  end(id: string, state: 'done' | 'cached' | 'failed'): void;
  close(): void;
}

export const silentProgress: ProgressSink = {
  begin() {},
  advance() {},
  end() {},
  close() {},
};

interface Row {
  totalBytes: number;
  doneBytes: number;
  state: string;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 30;

/**
 * A few lines of ANSI redraw, one per layer, as `docker pull` shows. A
 * library such as cli-progress would add a dependency for what fits in
 * this file, and this one knows a blob may be cached or may fail.
 */
export class TtyProgress implements ProgressSink {
  readonly #out: NodeJS.WriteStream;
  readonly #rows = new Map<string, Row>();
  #drawnLines = 0;
  #lastDrawMs = 0;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  begin(id: string, totalBytes: number): void {
    this.#rows.set(id, { totalBytes, doneBytes: 0, state: 'downloading' });
    this.#draw(true);
  }

  advance(id: string, bytes: number): void {
    const row = this.#rows.get(id);
    if (row !== undefined) row.doneBytes += bytes;
    this.#draw(false);
  }

  end(id: string, state: 'done' | 'cached' | 'failed'): void {
    const row = this.#rows.get(id) ?? { totalBytes: 0, doneBytes: 0, state };
    row.state = state;
    this.#rows.set(id, row);
    this.#draw(true);
  }

  close(): void {
    this.#draw(true);
  }

  #draw(force: boolean): void {
    const nowMs = Date.now();
    if (!force && nowMs - this.#lastDrawMs < REDRAW_MS) return;
    this.#lastDrawMs = nowMs;
    const up = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}A` : '';
    const lines = [...this.#rows].map(
      ([id, row]) => `\x1b[2K${renderRow(id, row)}\n`,
    );
    this.#out.write(up + lines.join(''));
    this.#drawnLines = lines.length;
  }
}

function renderRow(id: string, row: Row): string {
  const name = id.replace('sha256:', '').slice(0, 12);
  if (row.state !== 'downloading') return `${name}: ${row.state}`;
  const ratio =
    row.totalBytes > 0 ? Math.min(1, row.doneBytes / row.totalBytes) : 0;
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = `${'='.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}`;
  return `${name}: [${bar}] ${mib(row.doneBytes)}/${mib(row.totalBytes)} MiB`;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** A display on stderr when it is a terminal, silence otherwise. */
export function defaultProgress(): ProgressSink {
  return process.stderr.isTTY
    ? new TtyProgress(process.stderr)
    : silentProgress;
}
