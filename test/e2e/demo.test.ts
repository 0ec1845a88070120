/** The README's demo, as `scripts/demo.sh --exit` runs it after set-up. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { findFreePort } from '../../src/vmm/ports.ts';
import { Aegis } from './helpers.ts';

describe('aegis demo', () => {
  const aegis = new Aegis();

  after(() => aegis.dispose());

  it('serves the demo page from an instance, then removes it', async () => {
    const port = await findFreePort();
    const output = await aegis.ok(['demo', '--exit', '--port', String(port)]);
    assert.match(output, /^instance aegis-demo \([0-9a-f]+\) answered in/);
    assert.match(output, /Hello from an Aegis microVM/);
    assert.equal(await aegis.ok(['instance', 'ls', '-q']), '');
    assert.match(await aegis.ok(['image', 'ls']), /aegis-demo:latest/);
  });
});
