/**
 * What the daemon's API asks of the instance manager. The API layer parses
 * and validates requests into these types; the manager owns instances,
 * their VMs, their router listeners and their logs.
 */
import type { Readable } from 'node:stream';
import type { ExecSession } from '../control/exec-session.ts';
import type { ExecSpec } from '../control/messages.ts';
import type { Expose, IdlePolicy, Instance, RetryPolicy } from './model.ts';

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

export interface ImageView {
  /** The image id: the digest of its config. */
  digest: string;
  refs: readonly string[];
  diskBytes: number;
  createdAt: string;
}

export interface PullProgress {
  begin(id: string, totalBytes: number): void;
  advance(id: string, bytes: number): void;
  end(id: string, state: 'done' | 'cached' | 'failed'): void;
}

export interface ImageOperations {
  pull(ref: string, progress: PullProgress): Promise<ImageView>;
  /** A docker-save archive or an OCI layout tar; `tag` names each image. */
  load(source: Readable, tag: string | null): Promise<ImageView[]>;
  list(): Promise<ImageView[]>;
  /** Removes a reference; returns the references removed. */
  remove(ref: string): Promise<string[]>;
  /** Deletes what no reference names and no instance uses. */
  prune(): Promise<{ removedImages: readonly string[]; freedBytes: number }>;
}

export interface InstanceManager {
  readonly images: ImageOperations;
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
