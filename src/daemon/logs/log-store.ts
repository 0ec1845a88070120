import { EventEmitter, once } from 'node:events';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { LogLine } from '../manager.ts';

export interface LogStoreOptions {
  /** A segment is closed and a new one started past this size. */
  maxSegmentBytes?: number;
  /** Older segments beyond this count are deleted. */
  maxSegments?: number;
}

const SEGMENT = /^(\d{12})\.ndjson$/;

/**
 * A workload's log on disk: numbered lines in NDJSON segments, rotated
 * and bounded. Readers read the files, not a memory buffer, so a slow
 * follower lags behind but never loses a line that is still kept.
 */
export class LogStore extends EventEmitter<{ flush: [] }> {
  readonly dir: string;
  #maxSegmentBytes: number;
  #maxSegments: number;
  #fd: number | undefined;
  #segmentBytes = 0;
  #lastSeq = 0;
  #pending: string[] = [];
  #flushScheduled = false;
  #ended = false;

  constructor(dir: string, options: LogStoreOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.dir = dir;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? 8 * 1024 * 1024;
    this.#maxSegments = options.maxSegments ?? 4;
    mkdirSync(dir, { recursive: true });
    this.#lastSeq = this.#findLastSeq();
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  append(stream: LogLine['stream'], line: string): void {
    const entry: LogLine = {
      seq: ++this.#lastSeq,
      time: new Date().toISOString(),
      stream,
      line,
    };
    this.#pending.push(`${JSON.stringify(entry)}\n`);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is pending; batches many lines into few writes. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    let chunk = '';
    let firstSeq = this.#lastSeq - batch.length + 1;
    for (const text of batch) {
      if (
        this.#fd === undefined ||
        this.#segmentBytes >= this.#maxSegmentBytes
      ) {
        this.#write(chunk);
        chunk = '';
        this.#rotate(firstSeq);
      }
      chunk += text;
      this.#segmentBytes += Buffer.byteLength(text);
      firstSeq++;
    }
    this.#write(chunk);
    this.emit('flush');
  }

  /**
   * The workload is over (until it starts again): followers get what is
   * left and end, as `docker logs -f` does for a stopped container.
   */
  end(): void {
    this.flush();
    this.#ended = true;
    this.emit('flush');
  }

  /** A new run of the workload: followers wait for its lines again. */
  reopen(): void {
    this.#ended = false;
  }

  close(): void {
    this.flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** All kept lines (or the last `tail`), then new ones if following. */
  async *read(options: {
    tail: number | null;
    follow: boolean;
    signal?: AbortSignal;
  }): AsyncGenerator<LogLine> {
    this.flush();
    const firstSeq =
      options.tail === null ? 1 : Math.max(1, this.#lastSeq - options.tail + 1);
    const cursor = new SegmentCursor(this.dir, () => this.#segments());
    for (;;) {
      for (const line of cursor.next()) {
        if (line.seq >= firstSeq) yield line;
      }
      if (!options.follow || options.signal?.aborted) return;
      if (cursor.seq < this.#lastSeq) {
        this.flush();
        continue;
      }
      if (this.#ended) return;
      try {
        await once(this, 'flush', { signal: options.signal });
      } catch {
        return;
      }
    }
  }

  #segments(): { name: string; firstSeq: number }[] {
    return readdirSync(this.dir)
      .map((name) => ({ name, match: SEGMENT.exec(name) }))
      .filter((entry) => entry.match !== null)
      .map((entry) => ({ name: entry.name, firstSeq: Number(entry.match![1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
  }

  #findLastSeq(): number {
    const last = this.#segments().at(-1);
    if (last === undefined) return 0;
    const text = readFileSync(path.join(this.dir, last.name), 'utf8');
    const rows = text
      .trimEnd()
      .split('\n')
      .filter((row) => row !== '');
    const final = parseRow(rows.at(-1) ?? '');
    return final === undefined ? last.firstSeq - 1 : final.seq;
  }

  #rotate(firstSeq: number): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    const name = `${String(firstSeq).padStart(12, '0')}.ndjson`;
    this.#fd = openSync(path.join(this.dir, name), 'a');
    this.#segmentBytes = statSync(path.join(this.dir, name)).size;
    const segments = this.#segments();
    for (const old of segments.slice(0, -this.#maxSegments)) {
      rmSync(path.join(this.dir, old.name), { force: true });
    }
  }

  #write(chunk: string): void {
    if (chunk !== '' && this.#fd !== undefined) writeSync(this.#fd, chunk);
  }
}

/**
 * A reader's place in the segments: a file and a byte offset, so that a
 * follower reads each byte once however long the log grows.
 */
class SegmentCursor {
  seq = 0;
  #dir: string;
  #list: () => { name: string; firstSeq: number }[];
  #name: string | undefined;
  #offset = 0;

  constructor(dir: string, list: () => { name: string; firstSeq: number }[]) {
    this.#dir = dir;
    this.#list = list;
  }

  next(): LogLine[] {
    const lines: LogLine[] = [];
    for (;;) {
      const segments = this.#list();
      const index = segments.findIndex((s) => s.name === this.#name);
      if (index < 0) {
        // Not started, or rotated away: go on from the oldest kept.
        const oldest = segments[0];
        if (oldest === undefined) return lines;
        this.#name = oldest.name;
        this.#offset = 0;
        continue;
      }
      lines.push(...this.#readRest());
      const newer = segments[index + 1];
      if (newer === undefined) return lines;
      this.#name = newer.name;
      this.#offset = 0;
    }
  }

  #readRest(): LogLine[] {
    const file = path.join(this.#dir, this.#name!);
    let text: string;
    try {
      const fd = openSync(file, 'r');
      try {
        const size = statSync(file).size;
        const buffer = Buffer.alloc(Math.max(0, size - this.#offset));
        const read = readSync(fd, buffer, 0, buffer.length, this.#offset);
        text = buffer.subarray(0, read).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return [];
    }
    const end = text.lastIndexOf('\n') + 1;
    this.#offset += Buffer.byteLength(text.slice(0, end));
    const lines: LogLine[] = [];
    for (const row of text.slice(0, end).split('\n')) {
      const line = parseRow(row);
      if (line === undefined) continue;
      this.seq = line.seq;
      lines.push(line);
    }
    return lines;
  }
}

/** A row cut short by a crash mid-write is skipped, not fatal. */
function parseRow(row: string): LogLine | undefined {
  if (row === '') return undefined;
  try {
    return JSON.parse(row) as LogLine;
  } catch {
    return undefined;
  }
}
