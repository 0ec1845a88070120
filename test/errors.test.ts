import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ERROR_CODES } from '../src/errors.ts';

it('documents every error code, with its HTTP status and exit code', () => {
  const table = readFileSync(
    new URL('../docs/errors.md', import.meta.url),
    'utf8',
  );
  const documented = new Map<string, [number, number]>();
  for (const match of table.matchAll(
    /^\| `([A-Z_]+)` \| (\d+) \| (\d+) \|/gm,
  )) {
    documented.set(match[1]!, [Number(match[2]), Number(match[3])]);
  }
  const expected = new Map(
    Object.entries(ERROR_CODES).map(([code, { httpStatus, exitCode }]) => [
      code,
      [httpStatus, exitCode] as [number, number],
    ]),
  );
  assert.deepEqual(documented, expected);
});
