/** Runs the real CLI (`node bin/aegis.ts …`) as a child process. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const AEGIS = fileURLToPath(new URL('../../bin/aegis.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function aegis(
  home: string,
  args: string[],
  stdin = '',
): Promise<CliResult> {
  const child = spawn(process.execPath, [AEGIS, ...args], {
    env: { ...process.env, AEGIS_HOME: home },
    stdio: ['pipe', 'pipe', 'pipe'],
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
