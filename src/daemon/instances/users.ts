import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AegisError } from '../../errors.ts';

const run = promisify(execFile);

export interface Credentials {
  uid: number;
  gid: number;
  groups: number[];
}

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] };
const MAX_ID = 0xffff_fffe;

/**
 * Resolves an image's `User` (`name`, `uid`, `name:group`, `uid:gid`) to
 * numbers, reading /etc/passwd and /etc/group from the image's disk with
 * debugfs, so that no mount and no root are needed. The agent only takes
 * numbers.
 */
export async function resolveUser(
  user: string,
  diskPath: string,
): Promise<Credentials> {
  if (user === '') return ROOT;
  const [userPart = '', groupPart] = user.split(':', 2);
  const numericUser = parseId(userPart);
  const numericGroup = groupPart === undefined ? undefined : parseId(groupPart);
  const needsFiles =
    numericUser === undefined ||
    (groupPart !== undefined && numericGroup === undefined) ||
    groupPart === undefined;
  const passwd = needsFiles ? await readImageFile(diskPath, '/etc/passwd') : '';
  const group = needsFiles ? await readImageFile(diskPath, '/etc/group') : '';
  const entry = findPasswd(passwd, userPart);
  const uid = numericUser ?? entry?.uid;
  if (uid === undefined) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `user "${userPart}" of the image is not in its /etc/passwd; ` +
        'use a numeric uid or fix the image',
    );
  }
  const gid =
    numericGroup ??
    (groupPart === undefined
      ? (entry?.gid ?? uid)
      : findGroup(group, groupPart));
  if (gid === undefined) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `group "${groupPart}" of the image is not in its /etc/group; ` +
        'use a numeric gid or fix the image',
    );
  }
  const name = entry?.name ?? userPart;
  return { uid, gid, groups: supplementaryGroups(group, name, gid) };
}

function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

function findPasswd(text: string, nameOrId: string) {
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === nameOrId || uid === nameOrId) {
      const parsedUid = parseId(uid);
      const parsedGid = parseId(gid);
      if (parsedUid === undefined || parsedGid === undefined) continue;
      return { name, uid: parsedUid, gid: parsedGid };
    }
  }
  return undefined;
}

function findGroup(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const [groupName, , gid] = line.split(':');
    if (groupName === name && gid !== undefined) return parseId(gid);
  }
  return undefined;
}

function supplementaryGroups(text: string, user: string, gid: number) {
  const groups: number[] = [];
  for (const line of text.split('\n')) {
    const [, , id, members = ''] = line.split(':');
    const parsed = id === undefined ? undefined : parseId(id);
    if (parsed === undefined || parsed === gid) continue;
    if (members.split(',').includes(user)) groups.push(parsed);
  }
  return groups.slice(0, 64);
}

async function readImageFile(diskPath: string, file: string): Promise<string> {
  try {
    const { stdout } = await run('debugfs', ['-R', `cat ${file}`, diskPath], {
      maxBuffer: 4 * 1024 * 1024,
    });
    return stdout;
  } catch {
    return '';
  }
}
