import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkName,
  generateId,
  generateName,
  ID_PATTERN,
  NAME_PATTERN,
} from '../../src/daemon/names.ts';
import type { AegisError } from '../../src/errors.ts';

describe('names and ids', () => {
  it('accepts Docker-style names', () => {
    for (const name of ['web', 'web-1', 'a.b_c', '0abc', 'X'.repeat(128)]) {
      assert.equal(checkName(name), name);
    }
  });

  it('refuses names that break the rule, saying what is allowed', () => {
    assert.throws(
      () => checkName('-web'),
      (error: AegisError) =>
        error.code === 'INVALID_ARGUMENT' &&
        error.message ===
          "invalid name \"-web\": use letters, digits, '_', '.' and " +
            "'-', starting with a letter or digit (e.g. web-1)",
    );
    for (const name of ['', 'a b', 'a/b', 'é']) {
      assert.throws(() => checkName(name), /invalid name/);
    }
    assert.throws(() => checkName('x'.repeat(129)), /use at most 128/);
  });

  it('generates names that follow the rule and avoid taken ones', () => {
    const taken = new Set<string>();
    for (let n = 0; n < 50; n++) {
      const name = generateName(taken);
      assert.match(name, NAME_PATTERN);
      assert.ok(!taken.has(name));
      taken.add(name);
    }
  });

  it('generates 12-character lowercase hex ids', () => {
    const ids = new Set(Array.from({ length: 100 }, generateId));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, ID_PATTERN);
  });
});
