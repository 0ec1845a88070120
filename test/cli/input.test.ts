/** Bad input: refused before the daemon is asked, in the one format. */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { tempHome } from '../daemon/helpers/daemon.ts';
import { aegis } from './helpers.ts';

describe('the CLI, given bad input', () => {
  let home: string;
  before(async () => {
    home = await tempHome();
  });
  after(() => rm(home, { recursive: true, force: true }));

  async function refused(args: string[], expected: string, code = 2) {
    const result = await aegis(home, args);
    assert.equal(result.stderr, `${expected}\n`);
    assert.equal(result.stdout, '');
    assert.equal(result.code, code);
  }

  it('refuses unknown options instead of ignoring them', () =>
    refused(
      ['instance', 'start', '--image', 'a', '--exposee', '80:80'],
      "aegis: INVALID_ARGUMENT: unknown option '--exposee' " +
        '(Did you mean --expose?) (run with --help for usage)',
    ));

  it('refuses extra arguments', () =>
    refused(
      ['instance', 'ls', 'web'],
      "aegis: INVALID_ARGUMENT: too many arguments for 'ls'. Expected 0 " +
        'arguments but got 1. (run with --help for usage)',
    ));

  it('refuses a bad expose, naming it and the expected form', () =>
    refused(
      ['run', '--expose', '8080:99999', 'alpine'],
      'aegis: INVALID_ARGUMENT: invalid expose "8080:99999": guest port ' +
        '99999 is out of range; use 1-65535',
    ));

  it('refuses two exposes of one host port', () =>
    refused(
      ['run', '--expose', '8080:80', '--expose', '0.0.0.0:8080:81', 'alpine'],
      'aegis: INVALID_ARGUMENT: exposes "127.0.0.1:8080:80/http" and ' +
        '"0.0.0.0:8080:81/http" both bind host port 8080; give each a ' +
        'different host port',
    ));

  it('refuses a bad retry timeout and a bad exec user', async () => {
    await refused(
      ['run', '--retry-timeout', '5 seconds', 'alpine'],
      'aegis: INVALID_ARGUMENT: --retry-timeout "5 seconds" is not valid; ' +
        'use a duration such as 30s, 5m or 1h30m',
    );
    await refused(
      ['exec', '-u', 'nobody', 'web', '--', 'id'],
      'aegis: INVALID_ARGUMENT: --user "nobody" is not valid; use UID or ' +
        'UID:GID as numbers, e.g. 1000:1000',
    );
  });

  it('refuses bad memory, cpus, durations, env and names', async () => {
    await refused(
      ['run', '--memory', '32', 'alpine'],
      'aegis: INVALID_ARGUMENT: --memory "32" is not valid; use 64-65536 ' +
        'MiB, e.g. 512, 512m or 2g',
    );
    await refused(
      ['run', '--cpus', '0', 'alpine'],
      'aegis: INVALID_ARGUMENT: --cpus "0" is not valid; use a whole ' +
        'number from 1 to 16',
    );
    await refused(
      ['run', '--idle-pause', '5 minutes', 'alpine'],
      'aegis: INVALID_ARGUMENT: --idle-pause "5 minutes" is not valid; ' +
        'use a duration such as 30s, 5m or 1h30m, or off',
    );
    await refused(
      ['run', '-e', 'NOVALUE', 'alpine'],
      'aegis: INVALID_ARGUMENT: --env "NOVALUE" is not valid; use ' +
        'KEY=VALUE, e.g. LOG_LEVEL=debug',
    );
    await refused(
      ['run', '--name', 'bad name', 'alpine'],
      'aegis: INVALID_ARGUMENT: invalid name "bad name": use letters, ' +
        "digits, '_', '.' and '-', starting with a letter or digit " +
        '(e.g. web-1)',
    );
  });

  it('refuses arguments after -- on a command that runs nothing', () =>
    refused(
      ['instance', 'rm', 'web', '--', 'x'],
      'aegis: INVALID_ARGUMENT: `aegis instance rm` takes no arguments ' +
        'after --; remove "-- x"',
    ));

  it("asks for exec's command, and start's image or name", async () => {
    await refused(
      ['exec', 'web'],
      'aegis: INVALID_ARGUMENT: exec needs the command after --, e.g. ' +
        'aegis exec web -- ls /',
    );
    await refused(
      ['instance', 'start'],
      'aegis: INVALID_ARGUMENT: instance start needs --image REF to ' +
        'create an instance, or the NAME of one to start again',
    );
  });

  it('says when the daemon is not running, with exit code 9', () =>
    refused(
      ['daemon', 'status'],
      `aegis: DAEMON_UNAVAILABLE: aegisd is not running (nothing answers ` +
        `on ${home}/aegisd.sock); start it with \`aegis daemon start\``,
      9,
    ));
});
