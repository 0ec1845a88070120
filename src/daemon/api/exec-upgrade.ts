/**
 * `POST /v1/instances/{ref}/exec` with `Upgrade: aegis-exec`: reads the
 * JSON body, starts the process, answers 101 and then carries the
 * process's input, output, resizes, signals and exit status as frames
 * (exec-frames.ts). Failures before the 101 are ordinary JSON errors.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecSession } from '../../control/exec-session.ts';
import { AegisError } from '../../errors.ts';
import { MAX_BODY_BYTES } from './defaults.ts';
import { EXEC_UPGRADE } from './exec-frames.ts';
import { pipeSession } from './exec-pipe.ts';
import { errorBody, errorStatus } from './http.ts';
import type { ApiDeps } from './route.ts';
import { ExecBody } from './schemas.ts';
import { parseWith } from './validate.ts';

/** How long a client may take to send the exec request's body. */
const BODY_TIMEOUT_MS = 30_000;

export async function handleExecUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  ref: string,
  deps: ApiDeps,
): Promise<void> {
  let session: ExecSession;
  let rest: Buffer;
  // The name or id prefix the client gave, until it is resolved.
  let instanceId = ref;
  try {
    checkUpgradeHeader(req);
    const body = await readUpgradeBody(req, socket, head);
    rest = body.rest;
    const spec = parseWith(ExecBody, parseJson(body.body));
    instanceId = deps.manager.get(ref).id;
    session = await deps.manager.exec(instanceId, spec);
    await started(session);
  } catch (error) {
    if (!(error instanceof AegisError)) {
      deps.log.error({ err: error, instance: instanceId }, 'exec failed');
    }
    refuseUpgrade(socket, error);
    return;
  }
  socket.write(
    `HTTP/1.1 101 ${STATUS_CODES[101]}\r\n` +
      `Upgrade: ${EXEC_UPGRADE}\r\nConnection: Upgrade\r\n\r\n`,
  );
  pipeSession(session, socket, rest, deps.log.child({ instance: instanceId }));
}

function checkUpgradeHeader(req: IncomingMessage): void {
  const protocol = req.headers.upgrade?.toLowerCase();
  if (protocol === EXEC_UPGRADE) return;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `exec needs "Upgrade: ${EXEC_UPGRADE}", not "${protocol ?? ''}"`,
  );
}

/** Waits for the process to start; a process that already ran is fine. */
async function started(session: ExecSession): Promise<void> {
  try {
    await session.started;
  } catch (error) {
    if (!session.done) throw error;
    await session.exited;
  }
}

/** Writes a plain HTTP error answer on a socket not yet upgraded. */
export function refuseUpgrade(socket: Duplex, error: unknown): void {
  const status = errorStatus(error);
  const body = `${JSON.stringify(errorBody(error))}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8') || '{}');
  } catch {
    throw new AegisError(
      'INVALID_ARGUMENT',
      'the exec request body is not valid JSON; send a JSON object',
    );
  }
}

/**
 * An upgrade request's body is not read by node:http: take
 * Content-Length bytes from what came with the head and then the socket.
 * Bytes after the body are the first frames.
 */
function readUpgradeBody(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<{ body: Buffer; rest: Buffer }> {
  const length = contentLength(req);
  return new Promise((resolve, reject) => {
    let received = head;
    const timer = setTimeout(
      () => fail('the exec request body did not arrive in time'),
      BODY_TIMEOUT_MS,
    );
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
    };
    const fail = (message: string) => {
      cleanup();
      reject(new AegisError('INVALID_ARGUMENT', message));
    };
    const check = () => {
      if (received.length < length) return;
      cleanup();
      resolve({
        body: received.subarray(0, length),
        rest: received.subarray(length),
      });
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      check();
    };
    const onEnd = () => fail('the exec request ended before its body did');
    socket.on('data', onData);
    socket.on('end', onEnd);
    check();
  });
}

function contentLength(req: IncomingMessage): number {
  const raw = req.headers['content-length'] ?? '0';
  const length = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (length <= MAX_BODY_BYTES) return length;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `exec request Content-Length "${raw}" is not a size up to ` +
      `${MAX_BODY_BYTES}; send the body with its length`,
  );
}
