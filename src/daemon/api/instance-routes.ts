/** Routes that create, list, inspect, change the state of and remove. */
import { AegisError } from '../../errors.ts';
import { EXPOSES_FIXED } from '../expose.ts';
import { toCreateRequest } from './create.ts';
import {
  checkQuery,
  queryFlag,
  readJson,
  sendJson,
  sendNoContent,
} from './http.ts';
import type { RequestContext, Route } from './route.ts';
import { CreateInstanceBody, EmptyBody, StopBody } from './schemas.ts';
import { parseWith } from './validate.ts';

const CONFIG_FIXED =
  "an instance's configuration is fixed at creation; create a new " +
  'instance to change it';

async function create({ req, res, query, deps }: RequestContext) {
  checkQuery(query, []);
  const body = parseWith(CreateInstanceBody, await readJson(req));
  const taken = new Set(deps.manager.list().map((i) => i.name));
  const instance = await deps.manager.create(toCreateRequest(body, taken));
  sendJson(res, 201, instance);
}

async function list({ res, query, deps }: RequestContext) {
  checkQuery(query, []);
  sendJson(res, 200, { instances: deps.manager.list() });
}

async function inspect({ res, query, params, deps }: RequestContext) {
  checkQuery(query, []);
  sendJson(res, 200, deps.manager.get(params.ref!));
}

async function remove({ res, query, params, deps }: RequestContext) {
  checkQuery(query, ['force']);
  await deps.manager.remove(params.ref!, queryFlag(query, 'force'));
  sendNoContent(res);
}

/** PUT and PATCH: nothing about an instance changes after creation. */
async function refuseChange({ req, query, params, deps }: RequestContext) {
  checkQuery(query, []);
  deps.manager.get(params.ref!);
  const body = await readJson(req).catch(() => ({}));
  throw new AegisError(
    'IMMUTABLE',
    mentionsExposes(body) ? EXPOSES_FIXED : CONFIG_FIXED,
  );
}

/** Reads an action's body; an attempt to pass exposes is IMMUTABLE. */
async function readActionBody(context: RequestContext): Promise<unknown> {
  checkQuery(context.query, []);
  const body = await readJson(context.req);
  if (mentionsExposes(body)) throw new AegisError('IMMUTABLE', EXPOSES_FIXED);
  return body;
}

function mentionsExposes(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'exposes' in body;
}

type SimpleAction = 'start' | 'pause' | 'resume';

function simpleAction(action: SimpleAction): Route['handle'] {
  return async (context) => {
    parseWith(EmptyBody, await readActionBody(context));
    const { manager } = context.deps;
    sendJson(context.res, 200, await manager[action](context.params.ref!));
  };
}

function timedAction(action: 'stop' | 'restart'): Route['handle'] {
  return async (context) => {
    const body = parseWith(StopBody, await readActionBody(context));
    const { manager } = context.deps;
    const ref = context.params.ref!;
    sendJson(context.res, 200, await manager[action](ref, body.timeoutMs));
  };
}

const ONE = '/v1/instances/{ref}';

export const INSTANCE_ROUTES: Route[] = [
  { method: 'POST', path: '/v1/instances', handle: create },
  { method: 'GET', path: '/v1/instances', handle: list },
  { method: 'GET', path: ONE, handle: inspect },
  { method: 'DELETE', path: ONE, handle: remove },
  { method: 'PUT', path: ONE, handle: refuseChange },
  { method: 'PATCH', path: ONE, handle: refuseChange },
  { method: 'POST', path: `${ONE}/start`, handle: simpleAction('start') },
  { method: 'POST', path: `${ONE}/stop`, handle: timedAction('stop') },
  { method: 'POST', path: `${ONE}/restart`, handle: timedAction('restart') },
  { method: 'POST', path: `${ONE}/pause`, handle: simpleAction('pause') },
  { method: 'POST', path: `${ONE}/resume`, handle: simpleAction('resume') },
];

export { refuseChange };
