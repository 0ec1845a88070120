import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageSettings } from '../../src/daemon/image-settings.ts';
import { isAegisError } from '../../src/errors.ts';

describe("the daemon's image settings", () => {
  it('are empty when nothing is set', () => {
    assert.deepEqual(imageSettings({}), { insecureRegistries: [], limits: {} });
  });

  it('read registries and limits from the environment', () => {
    const settings = imageSettings({
      AEGIS_INSECURE_REGISTRIES: 'registry.lan:5000, mirror.lan',
      AEGIS_MAX_UNPACKED_BYTES: '1073741824',
      AEGIS_MAX_LAYER_ENTRIES: '5000',
    });
    assert.deepEqual(settings, {
      insecureRegistries: ['registry.lan:5000', 'mirror.lan'],
      limits: { maxUnpackedBytes: 1073741824, maxEntries: 5000 },
    });
  });

  it('refuse malformed values, naming the variable and the fix', () => {
    const refuses = (env: NodeJS.ProcessEnv, message: RegExp) =>
      assert.throws(
        () => imageSettings(env),
        (error) =>
          isAegisError(error, 'INVALID_ARGUMENT') &&
          message.test(error.message),
      );
    refuses(
      { AEGIS_MAX_UNPACKED_BYTES: '1e9' },
      /AEGIS_MAX_UNPACKED_BYTES "1e9" is not valid; use a whole number/,
    );
    refuses({ AEGIS_MAX_LAYER_ENTRIES: '0' }, /AEGIS_MAX_LAYER_ENTRIES "0"/);
    refuses(
      { AEGIS_INSECURE_REGISTRIES: 'https://registry.lan' },
      /entry "https:\/\/registry.lan" is not a registry host; use HOST/,
    );
  });
});
