import { readFileSync } from 'node:fs';

/**
 * Whether a process is alive. A killed process stays a zombie until its
 * parent reaps it, and an orphan's new parent (PID 1, which on some hosts
 * reaps only every second or so) may take its time: signal 0 still
 * reaches a zombie, so the state in /proc decides.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // The command name in parentheses may itself hold spaces or ')'.
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state !== 'Z' && state !== 'X';
}
