/**
 * The daemon's data model: what an instance is, as stored and as shown.
 * Instances are the only runtime object. Exposes are fixed at creation.
 */

export type ExposeProtocol = 'http' | 'tcp';

/** `--expose [IP:]HOST:GUEST[/http|/tcp]`, parsed. */
export interface Expose {
  bindHost: string;
  hostPort: number;
  guestPort: number;
  protocol: ExposeProtocol;
}

/** How the router retries a guest port that does not answer yet. */
export interface RetryPolicy {
  timeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** When an idle instance pauses and hibernates; null turns a step off. */
export interface IdlePolicy {
  pauseAfterMs: number | null;
  hibernateAfterMs: number | null;
  wakeOnIngress: boolean;
}

export interface InstanceConfig {
  image: string;
  /** Resolved image digest at creation; the instance keeps using it. */
  imageDigest: string;
  /** Replaces the image's Entrypoint when set. */
  entrypoint: string[] | null;
  /** Replaces the image's Cmd when set (arguments after `--`). */
  cmd: string[] | null;
  /** KEY=VALUE pairs added to (and overriding) the image's Env. */
  env: string[];
  memoryMib: number;
  cpus: number;
  exposes: Expose[];
  retry: RetryPolicy;
  idle: IdlePolicy;
  /** Removed when its workload exits (`aegis run --rm`). */
  autoRemove: boolean;
}

export type InstanceState =
  | 'created'
  | 'starting'
  | 'running'
  | 'paused'
  | 'hibernated'
  | 'stopping'
  | 'stopped'
  | 'exited'
  | 'failed';

export interface InstanceStatus {
  state: InstanceState;
  /** The workload's exit code, when state is `exited`. */
  exitCode: number | null;
  /** Why, when state is `failed` (or a VMM died). */
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  lastActivityAt: string | null;
  /** When the idle policy takes its next step, if one is due. */
  nextIdleStepAt: string | null;
  vmmPid: number | null;
}

export interface Instance {
  id: string;
  name: string;
  createdAt: string;
  config: InstanceConfig;
  status: InstanceStatus;
}
