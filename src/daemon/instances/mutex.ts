/**
 * Runs one operation at a time per instance, in arrival order. Lifecycle
 * steps (start, stop, pause, wake, remove) never interleave, so a hundred
 * connections arriving at a paused instance cause exactly one resume: the
 * first does it, the rest find it running.
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** True while an operation runs or waits. */
  get busy(): boolean {
    return this.#pending > 0;
  }

  run<T>(operation: () => Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(operation, operation).finally(() => {
      this.#pending--;
    });
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
