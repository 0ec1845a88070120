/**
 * End-to-end helpers: the real CLI against a real daemon in a private
 * AEGIS_HOME, the demo image loaded from the archive the set-up builds,
 * and the guest test server (test/fixtures/guest-tools) built statically.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Instance } from '../../src/daemon/model.ts';
import { guestDir } from '../../src/guest/artifacts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AEGIS = path.join(ROOT, 'bin/aegis.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Aegis {
  readonly home = mkdtempSync('/tmp/aegis-e2e-');
  readonly #env: NodeJS.ProcessEnv;

  /** `env` is added to this process's environment for every command. */
  constructor(env: NodeJS.ProcessEnv = {}) {
    this.#env = { ...process.env, ...env, AEGIS_HOME: this.home };
  }

  /**
   * Runs `aegis ARGS…` to completion. A command still running after
   * timeoutMs is killed (its code is then null), so that a CLI that hangs
   * fails its test instead of stalling the suite.
   */
  run(
    args: string[],
    stdin: Buffer | string = '',
    timeoutMs = 180_000,
  ): Promise<CliResult> {
    const child = spawn(process.execPath, [AEGIS, ...args], {
      env: this.#env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdin.end(stdin);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Runs and fails with the CLI's own words when it does not exit 0. */
  async ok(args: string[], stdin?: Buffer | string): Promise<string> {
    const result = await this.run(args, stdin);
    if (result.code !== 0) {
      throw new Error(
        `aegis ${args.join(' ')} exited ${result.code}: ${result.stderr}`,
      );
    }
    return result.stdout;
  }

  async inspect(name: string): Promise<Instance> {
    const text = await this.ok([
      'instance',
      'inspect',
      '--format',
      'json',
      name,
    ]);
    return JSON.parse(text) as Instance;
  }

  async loadDemo(): Promise<void> {
    const archive = path.join(guestDir(), 'demo.oci.tar');
    await this.ok(['image', 'load', '-i', archive]);
  }

  async dispose(): Promise<void> {
    await this.run(['daemon', 'stop']);
    await rm(this.home, { recursive: true, force: true });
  }
}

/** The guest test server, compiled once per run as a static binary. */
export function guestTestServer(): string {
  const out = path.join(ROOT, 'build/test/aegis-testd');
  const source = path.join(ROOT, 'test/fixtures/guest-tools/testd.c');
  const stale =
    !existsSync(out) || statSync(source).mtimeMs > statSync(out).mtimeMs;
  if (stale) {
    mkdirSync(path.dirname(out), { recursive: true });
    const cc = existsSync('/usr/bin/musl-gcc') ? 'musl-gcc' : 'gcc';
    execFileSync(cc, ['-static', '-Os', '-o', out, source]);
  }
  return out;
}

/** QEMU processes of an instance, found by the name QEMU runs under. */
export function vmmPids(instanceId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(`aegis-${instanceId}\0`)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
