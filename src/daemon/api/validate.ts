/**
 * Turns a schema failure into one INVALID_ARGUMENT that names the field,
 * the value it had and what it must be.
 */
import type { z } from 'zod';
import { AegisError } from '../../errors.ts';

/** Parses `value` with `schema`, or throws naming the first bad field. */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  at: PropertyKey[] = [],
): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new AegisError('INVALID_ARGUMENT', describeIssue(issue, at));
}

function describeIssue(issue: z.core.$ZodIssue, at: PropertyKey[]): string {
  const what = 'request body';
  const field = formatPath([...at, ...issue.path]);
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => `"${joinPath(field, key)}"`);
    return (
      `unknown field ${names.join(', ')} in the ${what}; remove it ` +
      '(docs/openapi.yaml lists the fields each request takes)'
    );
  }
  if (field === '') return `the ${what} ${issue.message}`;
  if (issue.input === undefined) {
    return `field "${field}" is missing from the ${what}; it ${issue.message}`;
  }
  return `field "${field}" is ${showValue(issue.input)}: it ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (joined, key) =>
      typeof key === 'number' ? `${joined}[${key}]` : joinPath(joined, key),
    '',
  );
}

function joinPath(prefix: string, key: PropertyKey): string {
  return prefix === '' ? String(key) : `${prefix}.${String(key)}`;
}

/** A short JSON rendering of a rejected value. */
export function showValue(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
