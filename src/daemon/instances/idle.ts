import type { IdlePolicy, InstanceState } from '../model.ts';

export type IdleStep = 'pause' | 'hibernate';

/** Timers may fire a millisecond before the clock reads their time. */
const TIMER_SLACK_MS = 5;

/**
 * Decides when an idle instance takes its next step. Activity is what the
 * host sees: router connections and requests in flight, exec sessions,
 * and keepalive leases the workload holds through the guest agent. The
 * pause comes `pauseAfterMs` after the last activity (or when the lease
 * runs out, if later); the hibernation `hibernateAfterMs` after the pause
 * (after the last activity when pausing is off).
 */
export class IdleTracker {
  #policy: IdlePolicy;
  #onDue: (step: IdleStep) => void;
  #active = 0;
  #lastActivityMs = Date.now();
  #holdUntilMs = 0;
  #pausedAtMs: number | null = null;
  #timer: NodeJS.Timeout | undefined;
  #nextStepAtMs: number | null = null;

  constructor(policy: IdlePolicy, onDue: (step: IdleStep) => void) {
    this.#policy = policy;
    this.#onDue = onDue;
  }

  get lastActivityAt(): string {
    return new Date(this.#lastActivityMs).toISOString();
  }

  get nextStepAt(): string | null {
    const at = this.#nextStepAtMs;
    return at === null ? null : new Date(at).toISOString();
  }

  open(): void {
    this.#active++;
    this.touch();
  }

  close(): void {
    this.#active = Math.max(0, this.#active - 1);
    this.touch();
  }

  /** The workload asks to stay awake for holdMs from now (0 releases). */
  lease(holdMs: number): void {
    this.#holdUntilMs = holdMs === 0 ? 0 : Date.now() + holdMs;
    this.touch();
  }

  touch(): void {
    this.#lastActivityMs = Date.now();
  }

  /** Sets the timer for the state the instance is now in. */
  schedule(state: InstanceState): void {
    this.cancel();
    if (state === 'paused') this.#pausedAtMs ??= Date.now();
    else this.#pausedAtMs = null;
    const next = this.#next(state);
    if (next === undefined) return;
    this.#nextStepAtMs = next.atMs;
    const delayMs = Math.max(0, next.atMs - Date.now());
    this.#timer = setTimeout(() => this.#onDue(next.step), delayMs);
    this.#timer.unref();
  }

  /**
   * The step that is due now in this state, if any. A timer can fire after
   * activity, a lease or a resume changed the plan: it then acts on
   * nothing.
   */
  dueStep(state: InstanceState): IdleStep | undefined {
    const next = this.#next(state);
    if (next === undefined || next.atMs > Date.now() + TIMER_SLACK_MS) {
      return undefined;
    }
    return next.step;
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextStepAtMs = null;
  }

  #next(state: InstanceState): { step: IdleStep; atMs: number } | undefined {
    const { pauseAfterMs, hibernateAfterMs } = this.#policy;
    if (this.#active > 0) return undefined;
    if (state === 'running') {
      const afterMs = pauseAfterMs ?? hibernateAfterMs;
      if (afterMs === null) return undefined;
      const atMs = Math.max(this.#lastActivityMs + afterMs, this.#holdUntilMs);
      return { step: pauseAfterMs === null ? 'hibernate' : 'pause', atMs };
    }
    if (state === 'paused' && hibernateAfterMs !== null) {
      return { step: 'hibernate', atMs: this.#pausedAtMs! + hibernateAfterMs };
    }
    return undefined;
  }
}
