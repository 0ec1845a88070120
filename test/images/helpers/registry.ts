import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as a reference's registry part. */
  host: string;
  stop(): Promise<void>;
}

export interface RegistryAuth {
  username: string;
  password: string;
}

/** Starts Debian's docker-registry on a free loopback port. */
export async function startRegistry(
  auth?: RegistryAuth,
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'aegis-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let authYaml = '';
  if (auth !== undefined) {
    const htpasswd = join(dir, 'htpasswd');
    execFileSync('htpasswd', ['-Bbc', htpasswd, auth.username, auth.password], {
      stdio: 'ignore',
    });
    authYaml = `auth:\n  htpasswd:\n    realm: aegis-test\n    path: ${htpasswd}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n' +
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n` +
      `http:\n  addr: ${host}\n${authYaml}`,
  );
  const child = spawn('docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  await waitReady(host, child, () => stderr);
  return {
    host,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string')
    throw new Error('no port');
  return address.port;
}

async function waitReady(
  host: string,
  child: ChildProcess,
  stderr: () => string,
) {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited: ${stderr()}`);
    const ok = await fetch(`http://${host}/v2/`).then(
      (response) => response.status === 200 || response.status === 401,
      () => false,
    );
    if (ok) return;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`docker-registry did not start on ${host}: ${stderr()}`);
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Pushes a tag of an OCI layout with skopeo, the real client. */
export function skopeoPush(
  layoutDir: string,
  tag: string,
  destination: string,
  options: { creds?: RegistryAuth; all?: boolean } = {},
): void {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (options.creds !== undefined) {
    args.push(
      '--dest-creds',
      `${options.creds.username}:${options.creds.password}`,
    );
  }
  if (options.all === true) args.push('--all');
  args.push(`oci:${layoutDir}:${tag}`, `docker://${destination}`);
  execFileSync('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The digest the registry gives a manifest, as a client would see it. */
export async function manifestDigest(
  host: string,
  repoAndTag: string,
): Promise<string> {
  const [repo, tag] = repoAndTag.split(':');
  const response = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
    },
  });
  const digest = response.headers.get('docker-content-digest');
  if (digest === null)
    throw new Error(`no digest for ${repoAndTag}: ${response.status}`);
  return digest;
}
