import { AegisError } from '../errors.ts';

/** A parsed image reference such as `docker.io/library/nginx:1.27`. */
export interface ImageReference {
  /** Registry name as users write it: `docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path inside the registry: `library/nginx`. */
  readonly repository: string;
  /** Tag, when given or defaulted; absent for a digest-only reference. */
  readonly tag?: string;
  /** `sha256:<64 hex>`, when the reference pins one. */
  readonly digest?: string;
}

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

const EXPECTED_FORM =
  'expected [HOST[:PORT]/]NAME[:TAG][@sha256:<64 hex digits>], ' +
  'for example nginx, nginx:1.27 or ghcr.io/org/app@sha256:…';

// The grammar of docker/distribution's reference package.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const DOMAIN = new RegExp(
  `^${LABEL}(?:\\.${LABEL})*(?::[0-9]+)?$|^\\[[a-fA-F0-9:]+\\](?::[0-9]+)?$`,
);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

/**
 * Parses a reference the way `docker pull` does: a name without a host is
 * on Docker Hub, a one-part Hub name is under `library/`, and a reference
 * with neither tag nor digest means `:latest`.
 */
export function parseReference(rawRef: string): ImageReference {
  const fail = (why: string): never => {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `invalid image reference ${JSON.stringify(rawRef)}: ${why}; ` +
        EXPECTED_FORM,
    );
  };
  if (rawRef.length === 0) fail('it is empty');

  const [rest, digest, extra] = rawRef.split('@');
  if (extra !== undefined) fail('it has more than one @');
  if (digest !== undefined && !DIGEST.test(digest)) {
    fail(`${JSON.stringify(digest)} is not a sha256 digest`);
  }
  const { name, tag } = splitTag(rest ?? '');
  if (tag !== undefined && !TAG.test(tag)) {
    fail(`${JSON.stringify(tag)} is not a valid tag`);
  }

  const { registry, repository } = splitName(name, fail);
  if (repository.length > MAX_NAME_LENGTH) fail('the name is too long');
  const defaultTag = digest === undefined ? 'latest' : undefined;
  return {
    registry,
    repository,
    ...((tag ?? defaultTag) !== undefined && { tag: tag ?? defaultTag }),
    ...(digest !== undefined && { digest }),
  };
}

function splitTag(nameAndTag: string): { name: string; tag?: string } {
  const colon = nameAndTag.lastIndexOf(':');
  if (colon <= nameAndTag.lastIndexOf('/')) return { name: nameAndTag };
  return {
    name: nameAndTag.slice(0, colon),
    tag: nameAndTag.slice(colon + 1),
  };
}

function splitName(
  name: string,
  fail: (why: string) => never,
): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hasHost =
    first.includes('.') || first.includes(':') || first === 'localhost';
  let registry = hasHost ? first : DOCKER_HUB;
  let repository = hasHost ? name.slice(slash + 1) : name;

  if (hasHost && !DOMAIN.test(registry)) {
    fail(`${JSON.stringify(registry)} is not a valid registry host`);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) {
    repository = `library/${repository}`;
  }
  for (const component of repository.split('/')) {
    if (!COMPONENT.test(component)) {
      fail(
        `${JSON.stringify(component)} is not a valid name component ` +
          '(lower-case letters, digits and . _ - separators)',
      );
    }
  }
  return { registry, repository };
}

/** The canonical form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** The host to contact: Docker Hub's API lives on another name. */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry;
}

/** Whether a string is a full `sha256:` digest (an image id). */
export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}
