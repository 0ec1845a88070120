import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import { parseChallenge } from '../../src/images/credentials.ts';
import { formatReference, parseReference } from '../../src/images/index.ts';
import { isLoopback } from '../../src/images/registry-client.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const canonical = (ref: string) => formatReference(parseReference(ref));

describe('image references', () => {
  test('default to Docker Hub, library/ and :latest', () => {
    assert.equal(canonical('nginx'), 'docker.io/library/nginx:latest');
    assert.equal(canonical('nginx:1.27'), 'docker.io/library/nginx:1.27');
    assert.equal(canonical('bitnami/redis'), 'docker.io/bitnami/redis:latest');
    assert.equal(
      canonical('index.docker.io/nginx'),
      'docker.io/library/nginx:latest',
    );
  });

  test('keep hosts with a dot, a port or localhost', () => {
    assert.equal(canonical('ghcr.io/org/app:v1'), 'ghcr.io/org/app:v1');
    assert.equal(canonical('localhost/app'), 'localhost/app:latest');
    assert.equal(canonical('127.0.0.1:5000/a/b'), '127.0.0.1:5000/a/b:latest');
    assert.equal(canonical('[::1]:5000/app'), '[::1]:5000/app:latest');
  });

  test('take digests with or without a tag', () => {
    assert.deepEqual(parseReference(`nginx@${DIGEST}`), {
      registry: 'docker.io',
      repository: 'library/nginx',
      digest: DIGEST,
    });
    assert.equal(parseReference(`nginx:1.27@${DIGEST}`).tag, '1.27');
  });

  test('refuse malformed input, naming it and the expected form', () => {
    for (const bad of [
      '',
      'UPPER',
      'a@sha256:xyz',
      'a:b:c',
      'a//b',
      'a:-tag',
      `a@${DIGEST}@${DIGEST}`,
    ]) {
      assert.throws(
        () => parseReference(bad),
        (error) =>
          isAegisError(error, 'INVALID_ARGUMENT') &&
          error.message.includes(JSON.stringify(bad)) &&
          error.message.includes('expected [HOST[:PORT]/]NAME[:TAG]'),
        bad,
      );
    }
  });
});

describe('registry plumbing', () => {
  test('only loopback hosts count as loopback', () => {
    for (const host of [
      'localhost:5000',
      '127.0.0.1',
      '127.9.8.7:80',
      '[::1]:5000',
    ]) {
      assert.ok(isLoopback(host), host);
    }
    for (const host of [
      '10.0.0.1:5000',
      'registry.example',
      '128.0.0.1',
      'localhost.evil.example',
    ]) {
      assert.ok(!isLoopback(host), host);
    }
  });

  test('bearer challenges are parsed as RFC 9110 auth-params', () => {
    const challenge = parseChallenge(
      'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"',
    );
    assert.deepEqual(challenge, {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'reg',
        scope: 'repository:a/b:pull,push',
      },
    });
  });
});
