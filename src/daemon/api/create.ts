/**
 * Turns a validated create body into the manager's request: names are
 * checked or generated, exposes parsed and checked for clashes.
 */
import { AegisError } from '../../errors.ts';
import { checkExpose, checkExposes, parseExpose } from '../expose.ts';
import type { CreateInstanceRequest } from '../manager.ts';
import type { Expose } from '../model.ts';
import { checkName, generateName } from '../names.ts';
import { type CreateInstanceBody, ExposeObject } from './schemas.ts';
import { parseWith } from './validate.ts';

export function toCreateRequest(
  body: CreateInstanceBody,
  takenNames: ReadonlySet<string>,
): CreateInstanceRequest {
  checkBackoff(body.retry.initialBackoffMs, body.retry.maxBackoffMs);
  return {
    ...body,
    name: body.name === null ? generateName(takenNames) : checkName(body.name),
    exposes: checkExposes(body.exposes.map(toExpose)),
  };
}

/** An expose is a spec string (`8080:7777/http`) or an object. */
function toExpose(raw: unknown, index: number): Expose {
  if (typeof raw === 'string') return parseExpose(raw);
  const expose = parseWith(ExposeObject, raw, ['exposes', index]);
  return checkExpose(expose);
}

function checkBackoff(initialMs: number, maxMs: number): void {
  if (maxMs >= initialMs) return;
  throw new AegisError(
    'INVALID_ARGUMENT',
    `field "retry.maxBackoffMs" is ${maxMs}: it must be at least ` +
      `retry.initialBackoffMs (${initialMs})`,
  );
}
