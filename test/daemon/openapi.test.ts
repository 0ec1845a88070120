import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ROUTES } from '../../src/daemon/api/server.ts';

/** The paths and methods in docs/openapi.yaml, read from its layout. */
function documentedRoutes(): Set<string> {
  const text = readFileSync(
    new URL('../../docs/openapi.yaml', import.meta.url),
    'utf8',
  );
  const routes = new Set<string>();
  let path: string | undefined;
  for (const line of text.split('\n')) {
    const pathMatch = /^ {2}(\/\S*):$/.exec(line);
    if (pathMatch) path = pathMatch[1];
    else if (/^\S/.test(line)) path = undefined;
    const method = /^ {4}(get|post|put|patch|delete):/.exec(line)?.[1];
    if (path && method) routes.add(`${method.toUpperCase()} ${path}`);
  }
  return routes;
}

it('documents every route the server serves, and no other', () => {
  const served = new Set(ROUTES.map((r) => `${r.method} ${r.path}`));
  assert.deepEqual([...documentedRoutes()].sort(), [...served].sort());
});
