/**
 * Carries one exec session over an upgraded connection: output becomes
 * frames (pausing the session's output while the client is behind),
 * input frames feed the session one at a time, and the exit status is
 * the last frame.
 */
import type { Duplex, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ExecSession } from '../../control/exec-session.ts';
import { AegisError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import {
  type ExecFrame,
  encodeData,
  encodeJson,
  FrameDecoder,
  FrameType,
} from './exec-frames.ts';
import { errorBody } from './http.ts';

/**
 * A client that leaves (or stops sending) before the process exits hangs
 * it up; the connection is half-open-capable, so its end is not a close.
 */
const SIGHUP = 1;

export function pipeSession(
  session: ExecSession,
  socket: Duplex,
  rest: Buffer,
  log: Logger,
): void {
  forwardOutput(session.stdout, FrameType.STDOUT, socket);
  forwardOutput(session.stderr, FrameType.STDERR, socket);
  forwardInput(session, socket, rest, log);
  const hangUp = () => {
    if (!session.done) session.signal(SIGHUP);
  };
  socket.on('error', () => {});
  socket.on('end', hangUp);
  socket.on('close', hangUp);
  void finish(session, socket, log);
}

async function finish(
  session: ExecSession,
  socket: Duplex,
  log: Logger,
): Promise<void> {
  try {
    const status = await session.exited;
    // Send what output there is before the status; a broken output
    // stream must not hide the status.
    await Promise.all([
      finished(session.stdout).catch(() => {}),
      finished(session.stderr).catch(() => {}),
    ]);
    socket.end(encodeJson(FrameType.EXIT, status));
  } catch (error) {
    log.warn({ err: error }, 'exec session failed');
    socket.end(encodeJson(FrameType.ERROR, errorBody(error).error));
  }
}

function forwardOutput(
  output: Readable,
  type: FrameType,
  socket: Duplex,
): void {
  let waiting = false;
  output.on('data', (chunk: Buffer) => {
    if (socket.destroyed) return;
    let full = false;
    for (const frame of encodeData(type, chunk)) full = !socket.write(frame);
    if (!full || waiting) return;
    waiting = true;
    output.pause();
    socket.once('drain', () => {
      waiting = false;
      output.resume();
    });
  });
  socket.once('close', () => output.resume());
}

function forwardInput(
  session: ExecSession,
  socket: Duplex,
  rest: Buffer,
  log: Logger,
): void {
  const decoder = new FrameDecoder();
  const take = async (chunk: Buffer) => {
    socket.pause();
    try {
      for (const frame of decoder.push(chunk)) await applyFrame(session, frame);
      socket.resume();
    } catch (error) {
      log.warn({ err: error }, 'exec input refused');
      socket.end(encodeJson(FrameType.ERROR, errorBody(error).error));
    }
  };
  let queue = take(rest);
  socket.on('data', (chunk: Buffer) => {
    queue = queue.then(() => take(chunk));
  });
}

async function applyFrame(
  session: ExecSession,
  frame: ExecFrame,
): Promise<void> {
  if (session.done) return;
  const { type, payload } = frame;
  if (type === FrameType.STDIN) {
    if (payload.length === 0) session.end();
    else await session.write(payload);
  } else if (type === FrameType.RESIZE && payload.length === 4) {
    session.resize(payload.readUInt16BE(0), payload.readUInt16BE(2));
  } else if (type === FrameType.SIGNAL && payload.length === 1) {
    session.signal(payload.readUInt8(0));
  } else {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `exec frame type ${type} with ${payload.length} bytes is not one a ` +
        'client may send; see docs/api.md',
    );
  }
}
