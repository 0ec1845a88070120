/**
 * A route: a method, a path template such as `/v1/instances/{ref}`, and a
 * handler. `matchRoute` finds the handler and the template's parameters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.ts';
import type { InstanceManager } from '../manager.ts';

export interface ApiDeps {
  manager: InstanceManager;
  log: Logger;
  /** Asks the daemon to shut down once the answer has been sent. */
  requestShutdown(): void;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  deps: ApiDeps;
}

export interface Route {
  method: string;
  /** The path as docs/openapi.yaml writes it. */
  path: string;
  handle(context: RequestContext): Promise<void>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** The route for a method and path, or the routes for the path alone. */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  pathname: string,
): { match?: RouteMatch; pathKnown: boolean } {
  let pathKnown = false;
  for (const route of routes) {
    const params = matchPath(route.path, pathname);
    if (!params) continue;
    pathKnown = true;
    if (route.method === method) return { match: { route, params }, pathKnown };
  }
  return { pathKnown };
}

function matchPath(
  template: string,
  pathname: string,
): Record<string, string> | undefined {
  const want = template.split('/');
  const got = pathname.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of want.entries()) {
    const actual = got[index]!;
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name === undefined) {
      if (part !== actual) return undefined;
      continue;
    }
    const value = safeDecode(actual);
    if (value === undefined || value === '') return undefined;
    params[name] = value;
  }
  return params;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
