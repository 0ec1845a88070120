import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AegisError } from '../errors.ts';
import { DOCKER_HUB } from './reference.ts';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const HUB_ALIASES = [DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io'];

/** The directory `docker login` writes to: $DOCKER_CONFIG or ~/.docker. */
export function dockerConfigDir(env = process.env): string {
  return env.DOCKER_CONFIG ?? join(homedir(), '.docker');
}

/**
 * Finds the credentials `docker login` stored for a registry in
 * config.json (`auths.<host>.auth`, base64 of `user:password`). Keys may
 * be written as URLs (`https://index.docker.io/v1/`), so they are compared
 * by host. Credential helpers are not consulted.
 */
export async function readDockerCredentials(
  registry: string,
  configDir = dockerConfigDir(),
): Promise<Credentials | undefined> {
  const path = join(configDir, 'config.json');
  const text = await readFile(path, 'utf8').catch((error) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;

  const auths = parseAuths(text, path);
  const wanted = registry === DOCKER_HUB ? HUB_ALIASES : [registry];
  for (const [key, entry] of Object.entries(auths)) {
    if (wanted.includes(hostOfKey(key))) return decodeEntry(entry, path, key);
  }
  return undefined;
}

function parseAuths(text: string, path: string): Record<string, unknown> {
  try {
    const config = JSON.parse(text) as { auths?: Record<string, unknown> };
    return config.auths ?? {};
  } catch (error) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `${path} is not valid JSON; fix or remove it`,
      { cause: error },
    );
  }
}

function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

function decodeEntry(
  rawEntry: unknown,
  path: string,
  key: string,
): Credentials | undefined {
  const entry = rawEntry as Record<string, unknown> | null;
  if (
    typeof entry?.username === 'string' &&
    typeof entry.password === 'string'
  ) {
    return { username: entry.username, password: entry.password };
  }
  if (typeof entry?.auth !== 'string' || entry.auth === '') return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `auths.${key}.auth in ${path} is not base64 of user:password; ` +
        'log in again',
    );
  }
  return {
    username: decoded.slice(0, colon),
    password: decoded.slice(colon + 1),
  };
}

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses a `WWW-Authenticate` header (RFC 9110 §11.6.1), first scheme. */
export function parseChallenge(header: string): Challenge {
  const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  const pair = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
  for (const found of (match?.[2] ?? '').matchAll(pair)) {
    const value = found[2]?.replace(/\\(.)/g, '$1') ?? found[3] ?? '';
    params[found[1]!.toLowerCase()] = value;
  }
  return { scheme: (match?.[1] ?? '').toLowerCase(), params };
}
