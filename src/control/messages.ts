/**
 * Typed messages of docs/protocol.md: encoders for what the host sends and
 * a validating parser for what the (untrusted) guest sends.
 */
import { AegisError } from '../errors.ts';
import { Fields, FieldWriter, Tag } from './fields.ts';
import { encodeFrame, type Frame, MessageType } from './frame.ts';

export interface ProcessSpec {
  argv: string[];
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  groups?: number[];
}

export interface ExecSpec extends ProcessSpec {
  tty?: boolean;
  rows?: number;
  cols?: number;
  stdin?: boolean;
}

export type WorkloadState = 'pending' | 'running' | 'exited';

export type GuestMessage =
  | {
      kind: 'hello';
      agentVersion: string;
      protocol: number;
      bootNs: bigint;
      rootReadyNs: bigint;
      nowNs: bigint;
      workload: WorkloadState;
      pid: number | undefined;
      /** The workload's keepalive hold from now; absent from old agents. */
      holdMs: number | undefined;
    }
  | { kind: 'log'; fd: 'stdout' | 'stderr'; partial: boolean; line: Buffer }
  | { kind: 'started'; stream: number; pid: number }
  | { kind: 'output'; stream: number; fd: 'stdout' | 'stderr'; data: Buffer }
  | { kind: 'exit'; stream: number; status: ExitStatus }
  | { kind: 'error'; stream: number; errno: number; message: string }
  | { kind: 'ack'; stream: number }
  | { kind: 'window'; stream: number; bytes: number }
  | { kind: 'lease'; holdMs: number };

/** How a guest process ended: an exit code, or the signal that killed it. */
export type ExitStatus =
  | { exitCode: number; signal?: undefined }
  | { exitCode?: undefined; signal: number };

const MAX_PID = 4_194_304;
const MAX_WINDOW_BYTES = 1 << 30;
/** docs/keepalive.md: a lease lasts at most a day. */
export const MAX_HOLD_MS = 86_400_000;

// Host to guest.

export function helloRequest(): Buffer {
  return encodeFrame(MessageType.HELLO_REQ, 0);
}

function writeProcess(writer: FieldWriter, spec: ProcessSpec): FieldWriter {
  for (const arg of spec.argv) writer.string(Tag.argv, arg);
  for (const pair of spec.env ?? []) writer.string(Tag.env, pair);
  if (spec.cwd !== undefined) writer.string(Tag.cwd, spec.cwd);
  if (spec.uid !== undefined) writer.integer(Tag.uid, spec.uid);
  if (spec.gid !== undefined) writer.integer(Tag.gid, spec.gid);
  for (const group of spec.groups ?? []) writer.integer(Tag.groups, group);
  return writer;
}

export function startRequest(spec: ProcessSpec, hostname?: string): Buffer {
  const writer = writeProcess(new FieldWriter(), spec);
  if (hostname !== undefined) writer.string(Tag.hostname, hostname);
  return encodeFrame(MessageType.START, 0, writer.toBuffer());
}

export function execRequest(stream: number, spec: ExecSpec): Buffer {
  const writer = writeProcess(new FieldWriter(), spec);
  if (spec.tty) writer.flag(Tag.tty, true);
  if (spec.rows !== undefined) writer.integer(Tag.rows, spec.rows);
  if (spec.cols !== undefined) writer.integer(Tag.cols, spec.cols);
  if (spec.stdin) writer.flag(Tag.stdin, true);
  return encodeFrame(MessageType.EXEC, stream, writer.toBuffer());
}

export function stdinData(stream: number, data: Buffer): Buffer {
  return encodeFrame(MessageType.STDIN, stream, data);
}

export function resizeRequest(
  stream: number,
  rows: number,
  cols: number,
): Buffer {
  const fields = new FieldWriter()
    .integer(Tag.rows, rows)
    .integer(Tag.cols, cols);
  return encodeFrame(MessageType.RESIZE, stream, fields.toBuffer());
}

export function signalRequest(stream: number, signal: number): Buffer {
  const fields = new FieldWriter().integer(Tag.signal, signal);
  return encodeFrame(MessageType.SIGNAL, stream, fields.toBuffer());
}

export function setClockRequest(stream: number, realtimeNs: bigint): Buffer {
  const fields = new FieldWriter().integer(Tag.realtimeNs, realtimeNs);
  return encodeFrame(MessageType.SET_CLOCK, stream, fields.toBuffer());
}

export function shutdownRequest(graceMs: number): Buffer {
  const fields = new FieldWriter().integer(Tag.graceMs, graceMs);
  return encodeFrame(MessageType.SHUTDOWN, 0, fields.toBuffer());
}

export function pingRequest(stream: number): Buffer {
  return encodeFrame(MessageType.PING, stream);
}

// Guest to host.

export function parseGuestMessage(frame: Frame): GuestMessage {
  const { type, stream, payload } = frame;
  switch (type) {
    case MessageType.HELLO:
      return parseHello(Fields.parse(payload));
    case MessageType.LOG:
      return parseLog(payload);
    case MessageType.STARTED: {
      const pid = required(
        Fields.parse(payload).boundedInteger(Tag.pid, 1, MAX_PID),
      );
      return { kind: 'started', stream, pid };
    }
    case MessageType.STDOUT:
    case MessageType.STDERR: {
      const fd = type === MessageType.STDOUT ? 'stdout' : 'stderr';
      return { kind: 'output', stream, fd, data: payload };
    }
    case MessageType.EXIT:
      return { kind: 'exit', stream, status: parseExit(Fields.parse(payload)) };
    case MessageType.ERROR: {
      const fields = Fields.parse(payload);
      const errno = fields.boundedInteger(Tag.errno, 0, 4095) ?? 0;
      const message = fields.string(Tag.message, 1024) ?? 'unknown error';
      return { kind: 'error', stream, errno, message };
    }
    case MessageType.ACK:
      return { kind: 'ack', stream };
    case MessageType.WINDOW: {
      const fields = Fields.parse(payload);
      const bytes = required(
        fields.boundedInteger(Tag.bytes, 0, MAX_WINDOW_BYTES),
      );
      return { kind: 'window', stream, bytes };
    }
    case MessageType.LEASE:
      if (stream !== 0) throw malformed(`a lease on stream ${stream}`);
      return { kind: 'lease', holdMs: parseHold(Fields.parse(payload)) };
    default:
      throw malformed(`unexpected frame type 0x${type.toString(16)}`);
  }
}

function parseHello(fields: Fields): GuestMessage {
  const workloadCode = fields.boundedInteger(Tag.workload, 0, 2) ?? 0;
  const states: WorkloadState[] = ['pending', 'running', 'exited'];
  return {
    kind: 'hello',
    agentVersion: fields.string(Tag.agentVersion, 64) ?? 'unknown',
    protocol: required(fields.boundedInteger(Tag.protocol, 0, 255)),
    bootNs: fields.integer(Tag.bootNs) ?? 0n,
    rootReadyNs: fields.integer(Tag.rootReadyNs) ?? 0n,
    nowNs: fields.integer(Tag.nowNs) ?? 0n,
    workload: states[workloadCode]!,
    pid: fields.boundedInteger(Tag.pid, 1, MAX_PID),
    holdMs: fields.boundedInteger(Tag.holdMs, 0, MAX_HOLD_MS),
  };
}

function parseHold(fields: Fields): number {
  return required(fields.boundedInteger(Tag.holdMs, 0, MAX_HOLD_MS));
}

function parseLog(payload: Buffer): GuestMessage {
  if (payload.length < 2) throw malformed('a log record is cut short');
  const fdCode = payload[0];
  if (fdCode !== 1 && fdCode !== 2) {
    throw malformed(`a log record names fd ${fdCode}`);
  }
  return {
    kind: 'log',
    fd: fdCode === 1 ? 'stdout' : 'stderr',
    partial: (payload[1]! & 1) === 1,
    line: payload.subarray(2),
  };
}

function parseExit(fields: Fields): ExitStatus {
  const signal = fields.boundedInteger(Tag.signal, 1, 64);
  if (signal !== undefined) return { signal };
  return { exitCode: required(fields.boundedInteger(Tag.exitCode, 0, 255)) };
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw malformed('a required field is missing');
  return value;
}

function malformed(message: string): AegisError {
  return new AegisError(
    'GUEST_PROTOCOL',
    `malformed guest message: ${message}`,
  );
}
