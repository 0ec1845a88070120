/**
 * Images: list, pull (progress streamed as NDJSON), load an archive sent
 * as the request body, remove a reference, prune. References contain `/`
 * and `:`, so they travel in the body or the query, never in the path.
 */
import { z } from 'zod';
import { AegisError } from '../../errors.ts';
import type { PullProgress } from '../manager.ts';
import { checkQuery, errorBody, readJson, sendJson } from './http.ts';
import type { RequestContext, Route } from './route.ts';
import { parseWith } from './validate.ts';

const MAX_REF_CHARS = 1024;
const PullBody = z.strictObject({ ref: z.string().min(1).max(MAX_REF_CHARS) });

async function list({ res, query, deps }: RequestContext) {
  checkQuery(query, []);
  sendJson(res, 200, { images: await deps.manager.images.list() });
}

/**
 * Answers 200 at once and streams progress lines; the last line is
 * `{"image": …}` or `{"error": …}`, since the status is already sent.
 */
async function pull({ req, res, query, deps }: RequestContext) {
  checkQuery(query, []);
  const { ref } = parseWith(PullBody, await readJson(req));
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const send = (event: unknown) => res.write(`${JSON.stringify(event)}\n`);
  const progress: PullProgress = {
    begin: (id, totalBytes) => send({ progress: 'begin', id, totalBytes }),
    advance: (id, bytes) => send({ progress: 'advance', id, bytes }),
    end: (id, state) => send({ progress: 'end', id, state }),
  };
  try {
    send({ image: await deps.manager.images.pull(ref, progress) });
  } catch (error) {
    send(errorBody(error));
  }
  res.end();
}

async function load({ req, res, query, deps }: RequestContext) {
  checkQuery(query, ['tag']);
  const tag = query.get('tag');
  if (tag !== null && (tag === '' || tag.length > MAX_REF_CHARS)) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `tag "${tag.slice(0, 80)}" is not a valid reference; use NAME[:TAG]`,
    );
  }
  const images = await deps.manager.images.load(req, tag);
  sendJson(res, 200, { images });
}

async function remove({ res, query, deps }: RequestContext) {
  checkQuery(query, ['ref']);
  const ref = query.get('ref');
  if (ref === null || ref === '') {
    throw new AegisError(
      'INVALID_ARGUMENT',
      'removing an image needs ?ref=REFERENCE (a name, name:tag or id)',
    );
  }
  sendJson(res, 200, { removed: await deps.manager.images.remove(ref) });
}

async function prune({ res, query, deps }: RequestContext) {
  checkQuery(query, []);
  sendJson(res, 200, await deps.manager.images.prune());
}

export const IMAGE_ROUTES: Route[] = [
  { method: 'GET', path: '/v1/images', handle: list },
  { method: 'DELETE', path: '/v1/images', handle: remove },
  { method: 'POST', path: '/v1/images/pull', handle: pull },
  { method: 'POST', path: '/v1/images/load', handle: load },
  { method: 'POST', path: '/v1/images/prune', handle: prune },
];
