/**
 * Runs `task` over `items` with at most `limit` running at once. On the
 * first failure the signal aborts the others, and the call settles only
 * when none is running, so no task outlives it.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const abort = new AbortController();
  const failures: unknown[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, abort.signal);
      } catch (error) {
        failures.push(error);
        abort.abort();
      }
    }
  };
  const count = Math.min(limit, items.length);
  await Promise.all(Array.from({ length: count }, worker));
  if (failures.length > 0) throw failures[0];
  return results;
}

/**
 * A readers-writer lock: pulls and loads share the store, while prune and
 * remove take it alone so they never delete what a pull is writing.
 */
export class StoreLock {
  #readers = 0;
  #writer: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  async shared<T>(work: () => Promise<T>): Promise<T> {
    while (this.#writer !== undefined) await this.#writer;
    this.#readers += 1;
    try {
      return await work();
    } finally {
      this.#readers -= 1;
      if (this.#readers === 0) this.#drained?.();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.#writer !== undefined) await this.#writer;
    let release = (): void => {};
    this.#writer = new Promise((resolve) => {
      release = resolve;
    });
    try {
      if (this.#readers > 0) {
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
      }
      return await work();
    } finally {
      this.#drained = undefined;
      this.#writer = undefined;
      release();
    }
  }
}
