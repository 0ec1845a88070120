/**
 * `aegis demo`: the product in one command. Loads the demo image the
 * set-up built, starts it as an instance behind the router, as
 * `aegis instance start --image aegis-demo:latest --expose PORT:7777`
 * would, shows its first answer, and removes it on Ctrl-C.
 */
import { createReadStream } from 'node:fs';
import { Command } from 'commander';
import type { DaemonClient } from '../daemon/client.ts';
import { isAegisError } from '../errors.ts';
import { guestDir } from '../guest/artifacts.ts';
import { formatReference, parseReference } from '../images/reference.ts';
import { withDaemon } from './daemon-process.ts';
import { parseInteger } from './parse.ts';

const DEMO_IMAGE = 'aegis-demo:latest';
const DEMO_NAME = 'aegis-demo';
const DEMO_GUEST_PORT = 7777;
/** The router answers 503 within its retry bound while the app starts. */
const FIRST_ANSWER_ATTEMPTS = 20;

interface DemoOptions {
  port: number;
  exit: boolean;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('start the demo image as an instance and serve its page')
    .option(
      '-p, --port <port>',
      'host port for the page (default: 8080)',
      (raw) => parseInteger('--port', raw, 1, 65_535),
      8080,
    )
    .option('--exit', 'remove the instance after its first answer')
    .action((options: DemoOptions) => withDaemon((c) => runDemo(c, options)));
}

async function runDemo(client: DaemonClient, options: DemoOptions) {
  await loadDemoImage(client);
  await removeOldDemo(client);
  const started = performance.now();
  const instance = await client.createInstance({
    image: DEMO_IMAGE,
    name: DEMO_NAME,
    cmd: null,
    start: true,
    exposes: [`${options.port}:${DEMO_GUEST_PORT}`],
  });
  const url = `http://127.0.0.1:${options.port}/`;
  try {
    const page = await firstAnswer(url);
    const ms = Math.round(performance.now() - started);
    say(`instance ${DEMO_NAME} (${instance.id}) answered in ${ms} ms:`);
    say(page.trim());
    if (options.exit) return;
    say(
      `\nserving ${url}; press Ctrl-C to remove it. Meanwhile, try:\n` +
        '  npx aegis instance ls\n' +
        `  npx aegis exec ${DEMO_NAME} -- uname -a\n` +
        `  npx aegis logs ${DEMO_NAME}\n` +
        'It pauses after a minute without requests, hibernates five ' +
        'minutes later, and wakes on the next one.',
    );
    await interrupted();
  } finally {
    await client.removeInstance(DEMO_NAME, true);
  }
}

async function loadDemoImage(client: DaemonClient): Promise<void> {
  const ref = formatReference(parseReference(DEMO_IMAGE));
  const images = await client.listImages();
  if (images.some((image) => image.refs.includes(ref))) return;
  const archive = `${guestDir()}/demo.oci.tar`;
  await client.loadImage(createReadStream(archive), null);
}

/** A demo left behind by an earlier run (its terminal was closed). */
async function removeOldDemo(client: DaemonClient): Promise<void> {
  try {
    await client.removeInstance(DEMO_NAME, true);
  } catch (error) {
    if (!isAegisError(error, 'NOT_FOUND')) throw error;
  }
}

async function firstAnswer(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url);
    const text = await response.text();
    if (response.ok || attempt >= FIRST_ANSWER_ATTEMPTS) return text;
  }
}

function interrupted(): Promise<void> {
  // Signal handlers alone do not keep the process alive.
  const alive = setInterval(() => {}, 60_000);
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  }).finally(() => clearInterval(alive));
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}
