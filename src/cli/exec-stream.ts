/**
 * The CLI's end of an exec stream (framing in
 * src/daemon/api/exec-frames.ts): output frames go to stdout and stderr,
 * stdin (with -i), terminal resizes (with -t) and Ctrl-C go to the
 * process, and the exit frame ends it.
 */
import type { Socket } from 'node:net';
import type { ExitStatus } from '../control/messages.ts';
import {
  type ExecFrame,
  encodeData,
  encodeFrame,
  encodeResize,
  FrameDecoder,
  FrameType,
} from '../daemon/api/exec-frames.ts';
import type { ExecBody } from '../daemon/api/schemas.ts';
import type { DaemonClient } from '../daemon/client.ts';
import { AegisError, ERROR_CODES, type ErrorCode } from '../errors.ts';
import type { TerminalSize } from './terminal.ts';

export interface ExecIo {
  /** Send this process's stdin (`-i`). */
  stdin: boolean;
  /** Report terminal size changes (`-t`). */
  watchResize?: (onResize: (size: TerminalSize) => void) => () => void;
}

const FORWARDED_SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

export async function runExecStream(
  client: DaemonClient,
  ref: string,
  spec: ExecBody,
  io: ExecIo,
): Promise<ExitStatus> {
  const { socket, head } = await client.openExec(ref, spec);
  const cleanups: (() => void)[] = [];
  try {
    if (io.stdin) cleanups.push(sendStdin(socket));
    if (io.watchResize) {
      cleanups.push(
        io.watchResize(({ rows, cols }) => {
          socket.write(encodeResize(rows, cols));
        }),
      );
    }
    cleanups.push(forwardSignals(socket));
    return await receive(socket, head);
  } finally {
    for (const cleanup of cleanups) cleanup();
    socket.destroy();
  }
}

function receive(socket: Socket, head: Buffer): Promise<ExitStatus> {
  const decoder = new FrameDecoder();
  return new Promise((resolve, reject) => {
    const take = (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          const status = applyFrame(socket, frame);
          if (status) resolve(status);
        }
      } catch (error) {
        reject(error);
      }
    };
    socket.on('data', take);
    socket.once('close', () =>
      reject(
        new AegisError(
          'DAEMON_UNAVAILABLE',
          'the exec stream closed before the exit status arrived; ' +
            'read the daemon log ($AEGIS_HOME/aegisd.log)',
        ),
      ),
    );
    socket.on('error', () => {});
    take(head);
  });
}

/** Handles one frame from the daemon; returns the exit status at the end. */
function applyFrame(socket: Socket, frame: ExecFrame): ExitStatus | undefined {
  if (frame.type === FrameType.STDOUT || frame.type === FrameType.STDERR) {
    const out =
      frame.type === FrameType.STDOUT ? process.stdout : process.stderr;
    if (!out.write(frame.payload)) {
      socket.pause();
      out.once('drain', () => socket.resume());
    }
    return undefined;
  }
  if (frame.type === FrameType.EXIT) {
    return JSON.parse(frame.payload.toString('utf8')) as ExitStatus;
  }
  if (frame.type === FrameType.ERROR) {
    const { code, message } = JSON.parse(frame.payload.toString('utf8'));
    const known = code in ERROR_CODES ? (code as ErrorCode) : 'INTERNAL';
    throw new AegisError(known, String(message));
  }
  throw new AegisError(
    'INTERNAL',
    `aegisd sent exec frame type ${frame.type}, which it should not`,
  );
}

/** Copies stdin into STDIN frames, pausing while the socket is full. */
function sendStdin(socket: Socket): () => void {
  const stdin = process.stdin;
  const onData = (chunk: Buffer) => {
    let full = false;
    for (const frame of encodeData(FrameType.STDIN, chunk)) {
      full = !socket.write(frame);
    }
    if (full) {
      stdin.pause();
      socket.once('drain', () => stdin.resume());
    }
  };
  const onEnd = () =>
    socket.write(encodeFrame(FrameType.STDIN, Buffer.alloc(0)));
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.destroy();
  };
}

/** Ctrl-C and SIGTERM go to the remote process instead of ending us. */
function forwardSignals(socket: Socket): () => void {
  const handlers = Object.entries(FORWARDED_SIGNALS).map(([name, number]) => {
    const handler = () =>
      socket.write(encodeFrame(FrameType.SIGNAL, Buffer.of(number)));
    process.on(name as NodeJS.Signals, handler);
    return () => process.off(name as NodeJS.Signals, handler);
  });
  return () => {
    for (const remove of handlers) remove();
  };
}
