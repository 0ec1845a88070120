import type { LogRecord } from '../../control/channel.ts';
import type { LogStore } from '../logs/log-store.ts';

/** A stored line is at most this long; longer lines are split. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Joins the agent's partial log records into lines for the log store,
 * bounded so that a guest cannot make the host hold a line without end.
 */
export class LogLines {
  #store: LogStore;
  #pending = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  #pendingBytes = { stdout: 0, stderr: 0 };

  constructor(store: LogStore) {
    this.#store = store;
  }

  add(record: LogRecord): void {
    const { fd } = record;
    this.#pending[fd].push(record.line);
    this.#pendingBytes[fd] += record.line.length;
    if (record.partial && this.#pendingBytes[fd] < MAX_LINE_BYTES) return;
    this.#flush(fd);
  }

  /** Writes what a stream has pending, when the workload ends. */
  end(): void {
    this.#flush('stdout');
    this.#flush('stderr');
  }

  #flush(fd: 'stdout' | 'stderr'): void {
    if (this.#pending[fd].length === 0) return;
    const line = Buffer.concat(this.#pending[fd]).toString('utf8');
    this.#pending[fd] = [];
    this.#pendingBytes[fd] = 0;
    this.#store.append(fd, line);
  }
}
