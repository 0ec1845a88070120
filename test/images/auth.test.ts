import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAegisError } from '../../src/errors.ts';
import { ImageStore, silentProgress } from '../../src/images/index.ts';
import { smallImage, tempDir } from './helpers/images.ts';
import { type BuiltImage, writeImageLayout } from './helpers/oci-builder.ts';
import { startProxy, type TestProxy } from './helpers/proxy.ts';
import {
  skopeoPush,
  startRegistry,
  type TestRegistry,
} from './helpers/registry.ts';
import { requireTools } from './helpers/tools.ts';

const USER = { username: 'alice', password: 'correct horse' };
const quiet = { progress: silentProgress };

async function writeDockerConfig(
  dir: string,
  host: string,
  user: string,
  password: string,
) {
  await mkdir(dir, { recursive: true });
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ auths: { [host]: { auth } } }),
  );
}

describe('pulling from a registry that wants credentials', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let registry: TestRegistry;
  let image: BuiltImage;
  const savedDockerConfig = process.env.DOCKER_CONFIG;
  const newStore = (name: string) =>
    new ImageStore({ root: join(work.path, name) });

  before(async () => {
    requireTools(
      'docker-registry',
      'skopeo',
      'htpasswd',
      'mkfs.ext4',
      'debugfs',
    );
    work = await tempDir('auth');
    registry = await startRegistry(USER);
    const layout = join(work.path, 'layout');
    image = await writeImageLayout(layout, 'v1', smallImage('private'));
    skopeoPush(layout, 'v1', `${registry.host}/private:v1`, { creds: USER });
  });

  after(async () => {
    if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = savedDockerConfig;
    await registry?.stop();
    await work?.cleanup();
  });

  test('works with credentials from the config file DOCKER_CONFIG names', async () => {
    const configDir = join(work.path, 'docker-good');
    await writeDockerConfig(
      configDir,
      registry.host,
      USER.username,
      USER.password,
    );
    process.env.DOCKER_CONFIG = configDir;
    const pulled = await newStore('good').pull(
      `${registry.host}/private:v1`,
      quiet,
    );
    assert.equal(pulled.digest, image.configDigest);
  });

  test('fails clearly with wrong credentials from the config file', async () => {
    const configDir = join(work.path, 'docker-bad');
    await writeDockerConfig(
      configDir,
      `https://${registry.host}/v1/`,
      USER.username,
      'wrong',
    );
    process.env.DOCKER_CONFIG = configDir;
    await assert.rejects(
      newStore('bad').pull(`${registry.host}/private:v1`, quiet),
      (error) => {
        assert.ok(isAegisError(error, 'REGISTRY_UNAUTHORIZED'));
        assert.match(error.message, /refused the credentials.*as user alice/);
        return true;
      },
    );
  });

  test('fails clearly without credentials', async () => {
    process.env.DOCKER_CONFIG = join(work.path, 'docker-none');
    await assert.rejects(
      newStore('none').pull(`${registry.host}/private:v1`, quiet),
      (error) =>
        isAegisError(error, 'REGISTRY_UNAUTHORIZED') &&
        /none were given/.test(error.message),
    );
  });

  test('takes basic credentials passed by the caller', async () => {
    process.env.DOCKER_CONFIG = join(work.path, 'docker-none');
    const store = newStore('explicit');
    const pulled = await store.pull(`${registry.host}/private:v1`, {
      ...quiet,
      credentials: USER,
    });
    assert.equal(pulled.digest, image.configDigest);
  });
});

describe('pulling with bearer tokens', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let registry: TestRegistry;
  let proxy: TestProxy;
  let image: BuiltImage;

  before(async () => {
    requireTools('docker-registry', 'skopeo', 'mkfs.ext4', 'debugfs');
    work = await tempDir('bearer');
    registry = await startRegistry();
    const layout = join(work.path, 'layout');
    image = await writeImageLayout(layout, 'v1', smallImage('bearer'));
    skopeoPush(layout, 'v1', `${registry.host}/tokened:v1`);
    proxy = await startProxy(registry.host, { bearer: USER });
  });

  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await work?.cleanup();
  });

  test('follows the challenge to the token service and retries', async () => {
    const store = new ImageStore({ root: join(work.path, 'store') });
    const pulled = await store.pull(`${proxy.host}/tokened:v1`, {
      ...quiet,
      credentials: USER,
    });
    assert.equal(pulled.digest, image.configDigest);
  });

  test('reports a refused token request', async () => {
    const store = new ImageStore({ root: join(work.path, 'refused') });
    const wrong = { username: 'alice', password: 'nope' };
    await assert.rejects(
      store.pull(`${proxy.host}/tokened:v1`, { ...quiet, credentials: wrong }),
      (error) =>
        isAegisError(error, 'REGISTRY_UNAUTHORIZED') &&
        /token service refused/.test(error.message),
    );
  });
});
