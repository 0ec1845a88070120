/**
 * What the daemon's API asks of the instance manager. The API layer parses
 * and validates requests into these types; the manager owns instances,
 * their VMs, their router listeners and their logs.
 */
import type { ExecSession } from '../control/exec-session.ts';
import type { ExecSpec } from '../control/messages.ts';
import type {
  Expose,
  IdlePolicy,
  Instance,
  RetryPolicy,
} from './model.ts';

export interface CreateInstanceRequest {
  name: string | null;
  image: string;
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  memoryMib: number;
  cpus: number;
  exposes: Expose[];
  retry: RetryPolicy;
  idle: IdlePolicy;
  autoRemove: boolean;
  /** Start right away (`instance start`, `run`) or only create. */
  start: boolean;
}

export interface LogLine {
  /** Sequence number, increasing per instance, from 1. */
  seq: number;
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LogQuery {
  follow: boolean;
  /** Only the last N lines; null for all. */
  tail: number | null;
  signal?: AbortSignal;
}

export interface InstanceManager {
  /** Validates, records and (when asked) starts; nothing is left behind
   *  when it throws. Name or port conflicts throw CONFLICT. */
  create(request: CreateInstanceRequest): Promise<Instance>;
  list(): Instance[];
  /** By name, full id, or unique id prefix; NOT_FOUND otherwise. */
  get(ref: string): Instance;
  start(ref: string): Promise<Instance>;
  stop(ref: string, timeoutMs: number): Promise<Instance>;
  restart(ref: string, timeoutMs: number): Promise<Instance>;
  pause(ref: string): Promise<Instance>;
  resume(ref: string): Promise<Instance>;
  /** Refuses a running instance unless force is set (CONFLICT). */
  remove(ref: string, force: boolean): Promise<void>;
  /** Wakes the instance if needed and runs a process in it. */
  exec(ref: string, spec: ExecSpec): Promise<ExecSession>;
  logs(ref: string, query: LogQuery): AsyncIterable<LogLine>;
  /** Resolves with the workload's exit code once it has exited. */
  wait(ref: string, signal?: AbortSignal): Promise<number>;
  /** Graceful shutdown of the daemon: hibernate or stop every VM. */
  close(): Promise<void>;
}
