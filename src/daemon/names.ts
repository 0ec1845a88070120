/**
 * Instance names and ids. Names follow Docker's container name rule; ids
 * are 12 random lowercase hex characters, shown in full everywhere.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { AegisError } from '../errors.ts';

export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const MAX_NAME_LENGTH = 128;
export const ID_PATTERN = /^[0-9a-f]{12}$/;

/** Returns the name unchanged, or throws INVALID_ARGUMENT saying why. */
export function checkName(rawName: string): string {
  if (rawName.length > MAX_NAME_LENGTH) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `invalid name "${rawName.slice(0, 20)}…": it has ${rawName.length} ` +
        `characters; use at most ${MAX_NAME_LENGTH}`,
    );
  }
  if (!NAME_PATTERN.test(rawName)) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `invalid name "${rawName}": use letters, digits, '_', '.' and '-', ` +
        'starting with a letter or digit (e.g. web-1)',
    );
  }
  return rawName;
}

export function generateId(): string {
  return randomBytes(6).toString('hex');
}

const ADJECTIVES = [
  'amber',
  'brave',
  'calm',
  'deft',
  'eager',
  'fair',
  'gentle',
  'hardy',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'proud',
  'quiet',
  'rapid',
  'sly',
  'swift',
  'tidy',
  'vivid',
  'witty',
  'bold',
  'crisp',
  'dapper',
  'jolly',
];

const NOUNS = [
  'otter',
  'falcon',
  'badger',
  'heron',
  'lynx',
  'marten',
  'newt',
  'osprey',
  'puffin',
  'raven',
  'salmon',
  'tern',
  'viper',
  'wren',
  'yak',
  'zebu',
  'bison',
  'crane',
  'dingo',
  'egret',
  'ferret',
  'gecko',
  'ibis',
  'koala',
];

/** A readable name such as `brave_otter` not in `taken`. */
export function generateName(taken: ReadonlySet<string>): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const name = `${pick(ADJECTIVES)}_${pick(NOUNS)}`;
    if (!taken.has(name)) return name;
  }
  return `aegis-${generateId().slice(0, 6)}`;
}

function pick(words: readonly string[]): string {
  return words[randomInt(words.length)]!;
}
