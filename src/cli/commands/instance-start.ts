/**
 * `aegis instance start`: with --image, creates and starts an instance;
 * with only a NAME (or id), starts that stopped instance again with the
 * configuration it was created with.
 */
import { Command } from 'commander';
import { EXPOSES_FIXED } from '../../daemon/expose.ts';
import { AegisError } from '../../errors.ts';
import { type CliContext, takesPassthrough } from '../context.ts';
import { withDaemon } from '../daemon-process.ts';
import {
  addCreateOptions,
  type CreateOptions,
  createBody,
  givenCreationOptions,
} from './create-options.ts';

interface StartOptions extends CreateOptions {
  image?: string;
}

export function instanceStartCommand(context: CliContext): Command {
  const command = new Command('start')
    .description(
      'create and start an instance from an image, or start a stopped one',
    )
    .argument('[name]', 'the instance to start again (name or id)')
    .option('--image <ref>', 'the image to create the instance from');
  addCreateOptions(command);
  command.addHelpText(
    'after',
    "\nArguments after -- replace the image's Cmd (its Entrypoint stays).",
  );
  command.action(async (ref: string | undefined, options: StartOptions) => {
    const output = options.image
      ? await create(options.image, ref, options, context)
      : await startAgain(command, ref ?? options.name, context);
    process.stdout.write(`${output}\n`);
  });
  return takesPassthrough(command);
}

async function create(
  image: string,
  ref: string | undefined,
  options: StartOptions,
  context: CliContext,
): Promise<string> {
  if (ref !== undefined && options.name !== undefined && ref !== options.name) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      `two names given, "${ref}" and --name "${options.name}"; give one`,
    );
  }
  const body = createBody(
    { ...options, name: options.name ?? ref },
    image,
    context.passthrough,
  );
  body.start = true;
  const instance = await withDaemon((client) => client.createInstance(body));
  return instance.id;
}

async function startAgain(
  command: Command,
  ref: string | undefined,
  context: CliContext,
): Promise<string> {
  if (ref === undefined) {
    throw new AegisError(
      'INVALID_ARGUMENT',
      'instance start needs --image REF to create an instance, or the ' +
        'NAME of one to start again',
    );
  }
  refuseChanges(givenCreationOptions(command), context);
  await withDaemon((client) => client.act(ref, 'start'));
  return ref;
}

/** A stored instance starts as created; new settings need a new one. */
function refuseChanges(given: string[], context: CliContext): void {
  if (given.includes('expose'))
    throw new AegisError('IMMUTABLE', EXPOSES_FIXED);
  const changes = given.map((key) =>
    key === 'wake' ? '--no-wake' : `--${kebab(key)}`,
  );
  if (context.passthrough !== null) changes.push('-- ARG…');
  if (changes.length === 0) return;
  throw new AegisError(
    'IMMUTABLE',
    `${changes.join(', ')} can only be set when an instance is created; ` +
      'create a new instance (with --image) to change them',
  );
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
