/**
 * Ingress router benchmark. One run measures:
 *   1. HTTP: a small-body upstream reached directly, through the router and
 *      through nginx (one worker, keep-alive upstream), with wrk;
 *   2. TCP: 1 GiB each way, directly and through the router.
 *
 *   node bench/router.ts [--seconds 5] [--connections 32] [--rounds 3]
 *                        [--mib 1024] [--http-upstream HOST:PORT]
 *                        [--tcp-upstream HOST:PORT]
 *   node bench/router.ts --guest [--mib 256]
 *
 * --guest boots the demo VM (busybox httpd on guest port 7777, and the
 * test server speaking this bench's TCP protocol on 9003) and measures the
 * router in front of it against the VMM's forwarded ports directly.
 * --http-upstream points the HTTP part at an existing server (for example
 * the VMM's forwarded port of a guest running an HTTP server), so "direct"
 * means the forward itself and "router" means the router in front of it.
 * --tcp-upstream does the same for TCP; that peer must speak this bench's
 * tcp-peer protocol (`node bench/router.ts --role tcp-peer --port N`).
 * The HTTP runs take turns (direct, router, nginx) for --rounds rounds and
 * each figure is the median of its rounds, so that a burst of noise on
 * this shared machine lands on one run rather than one contender.
 * Needs `wrk` and `nginx` (Debian packages); nginx is skipped if missing.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DAEMON_NODE_FLAGS } from '../src/cli/daemon-process.ts';
import { Router } from '../src/router/index.ts';

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    port: { type: 'string', default: '0' },
    upstream: { type: 'string', default: '' },
    protocol: { type: 'string', default: 'http' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    mib: { type: 'string', default: '1024' },
    'http-upstream': { type: 'string', default: '' },
    'tcp-upstream': { type: 'string', default: '' },
    guest: { type: 'boolean', default: false },
  },
});

const HOST = '127.0.0.1';
const CHUNK = Buffer.alloc(1024 * 1024, 'aegis');
const children: ChildProcess[] = [];
// A run cut short (a closed pipe, an error) must not leave its upstream,
// router and nginx processes behind.
process.on('exit', () => {
  for (const child of children) child.kill();
});

interface Address {
  host: string;
  port: number;
}

function parseAddress(text: string): Address {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

/** Prints the bound port on stdout so the parent can read it. */
function announce(server: net.Server): void {
  server.listen(Number(args.port), HOST, () => {
    process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
  });
}

function runHttpUpstream(): void {
  const body = Buffer.from('hello from the upstream\n');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': body.length,
    });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  announce(server);
}

/** First byte 'U': read until FIN, answer "ok". 'D': send N MiB. */
function runTcpPeer(): void {
  const mib = Number(args.mib);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.once('data', (first) => {
      if (first[0] === 0x55) {
        socket.resume();
        socket.on('end', () => socket.end('ok'));
        return;
      }
      void sendMib(socket, mib);
    });
  });
  announce(server);
}

async function sendMib(socket: net.Socket, mib: number): Promise<void> {
  for (let i = 0; i < mib; i++) {
    if (!socket.write(CHUNK)) await once(socket, 'drain');
  }
  socket.end();
}

async function runRouter(): Promise<void> {
  const upstream = parseAddress(args.upstream);
  const router = new Router();
  const listener = await router.listen({
    bindHost: HOST,
    hostPort: 0,
    protocol: args.protocol === 'tcp' ? 'tcp' : 'http',
    // One boot of a running instance, as the daemon's wake() names it.
    target: {
      instanceId: 'bench',
      wake: async () => ({ ...upstream, epoch: 'boot' }),
      ready: () => ({ ...upstream, epoch: 'boot' }),
    },
  });
  process.stdout.write(`${listener.address.port}\n`);
}

/** Starts this file in another role and resolves with the port it bound. */
async function startRole(role: string, extra: string[] = []): Promise<number> {
  // The router runs with the daemon's V8 flags, as it does in aegisd.
  const flags = role === 'router' ? DAEMON_NODE_FLAGS : [];
  const child = spawn(
    process.execPath,
    [...flags, import.meta.filename, '--role', role, ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return Number(line.toString().trim());
}

function startNginx(upstream: Address): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-bench-nginx-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream app { server ${upstream.host}:${upstream.port}; keepalive 64; }
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: 'inherit',
  });
  children.push(child);
  return waitForPort(port).then(() => port);
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${HOST}:${port}`);
}

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

async function wrk(port: number): Promise<WrkResult> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      'wrk',
      [
        '-t1',
        `-c${args.connections}`,
        `-d${args.seconds}s`,
        '--latency',
        `http://${HOST}:${port}/`,
      ],
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]),
    p50Ms: latencyMs(output, '50%'),
    p99Ms: latencyMs(output, '99%'),
  };
}

function latencyMs(output: string, percentile: string): number {
  const match = new RegExp(`${percentile}\\s+([\\d.]+)(us|ms|s)`).exec(output);
  if (match === null) return Number.NaN;
  const scale = { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  return Number(match[1]) * scale;
}

/** Moves `mib` MiB one way and returns MiB/s. */
async function tcpRun(
  port: number,
  upload: boolean,
  mib: number,
): Promise<number> {
  const socket = net.connect({ host: HOST, port, allowHalfOpen: true });
  await once(socket, 'connect');
  const startedMs = performance.now();

  socket.write(upload ? 'U' : 'D');
  if (upload) {
    socket.resume();
    await sendMib(socket, mib);
  } else {
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    await once(socket, 'end');
    if (received !== mib * CHUNK.length) throw new Error('short download');
    socket.end();
  }
  await once(socket, 'close');
  return mib / ((performance.now() - startedMs) / 1000);
}

/** Each figure's median over the runs (the middle one for odd counts). */
function medians(results: WrkResult[]): WrkResult | undefined {
  if (results.length === 0) return undefined;
  const median = (pick: (result: WrkResult) => number): number => {
    const sorted = results.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  return {
    rps: median((result) => result.rps),
    p50Ms: median((result) => result.p50Ms),
    p99Ms: median((result) => result.p99Ms),
  };
}

function row(name: string, result: WrkResult, base?: WrkResult): void {
  const ratio = base ? ` (${((100 * result.rps) / base.rps).toFixed(0)}%)` : '';
  console.log(
    `${name.padEnd(8)} ${result.rps.toFixed(0).padStart(8)} req/s${ratio}` +
      `  p50 ${result.p50Ms.toFixed(3)} ms  p99 ${result.p99Ms.toFixed(3)} ms`,
  );
}

async function benchHttp(): Promise<void> {
  const upstream = args['http-upstream']
    ? parseAddress(args['http-upstream'])
    : { host: HOST, port: await startRole('http-upstream') };
  const target = `${upstream.host}:${upstream.port}`;
  const routerPort = await startRole('router', ['--upstream', target]);
  const nginxPort = await startNginx(upstream).catch(() => undefined);

  const rounds = Number(args.rounds);
  console.log(
    `HTTP, wrk -t1 -c${args.connections} -d${args.seconds}s,` +
      ` median of ${rounds} rounds`,
  );
  // Warm-ups: connection pools, the JIT, and a guest's translated code.
  const ports = [upstream.port, routerPort, nginxPort];
  for (const port of ports) if (port !== undefined) await wrk(port);
  const runs: WrkResult[][] = [[], [], []];
  for (let round = 0; round < rounds; round++) {
    for (const [i, port] of ports.entries()) {
      if (port !== undefined) runs[i]!.push(await wrk(port));
    }
  }
  const [direct, routed, viaNginx] = runs.map(medians);
  row('direct', direct!);
  row('router', routed!, direct);
  const addedMs = (routed!.p50Ms - direct!.p50Ms).toFixed(3);
  if (nginxPort === undefined) {
    console.log(`nginx: not installed; router adds ${addedMs} ms at p50`);
    console.log('goals: router ≥ 60% of direct, ≤ 0.5 ms added at p50');
    return;
  }
  row('nginx', viaNginx!, direct);
  console.log(
    `router/nginx ${((100 * routed!.rps) / viaNginx!.rps).toFixed(0)}%` +
      `, router adds ${addedMs} ms at p50`,
  );
  console.log(
    'goals: router ≥ 60% of direct and ≥ 70% of nginx, ≤ 0.5 ms added at p50',
  );
}

async function benchTcp(): Promise<void> {
  const mib = Number(args.mib);
  const peerPort = args['tcp-upstream']
    ? parseAddress(args['tcp-upstream']).port
    : await startRole('tcp-peer', ['--mib', String(mib)]);
  const upstream = args['tcp-upstream'] || `${HOST}:${peerPort}`;
  const routerPort = await startRole('router', [
    '--upstream',
    upstream,
    '--protocol',
    'tcp',
  ]);

  console.log(`TCP, ${mib} MiB each way`);
  for (const upload of [true, false]) {
    const direct = await tcpRun(peerPort, upload, mib);
    const routed = await tcpRun(routerPort, upload, mib);
    console.log(
      `${upload ? 'upload  ' : 'download'} direct ${direct.toFixed(0)} MiB/s` +
        `  router ${routed.toFixed(0)} MiB/s` +
        ` (${((100 * routed) / direct).toFixed(0)}%)`,
    );
  }
  console.log('goal: router ≥ 90% of direct');
}

async function main(): Promise<void> {
  const guest = args.guest ? await bootGuest() : undefined;
  try {
    await benchHttp();
    await benchTcp();
  } finally {
    for (const child of children) child.kill();
    await guest?.dispose();
  }
}

/** Boots the demo VM with the bench's TCP peer and points both parts at it. */
async function bootGuest(): Promise<{ dispose(): Promise<void> }> {
  const { bootVm, execIn } = await import('../test/helpers/guest.ts');
  const { guestTestServer } = await import('../test/e2e/helpers.ts');
  const guest = await bootVm({
    forwards: [
      { guestPort: 7777, hostPort: 0 },
      { guestPort: 9003, hostPort: 0 },
    ],
  });
  const binary = readFileSync(guestTestServer()).toString('latin1');
  const install = 'cat > /bin/aegis-testd && chmod 755 /bin/aegis-testd';
  const session = guest.vm.channel.exec({
    argv: ['sh', '-c', install],
    stdin: true,
  });
  await session.write(Buffer.from(binary, 'latin1'));
  session.end();
  await session.exited;
  await execIn(guest.vm, [
    'sh',
    '-c',
    `setsid aegis-testd peer 9003 ${args.mib} </dev/null >/dev/null 2>&1 &`,
  ]);
  const [http, tcp] = guest.vm.forwards;
  args['http-upstream'] = `${HOST}:${http!.hostPort}`;
  args['tcp-upstream'] = `${HOST}:${tcp!.hostPort}`;
  console.log('guest: the demo VM, TCG or KVM as detected');
  return guest;
}

const roles: Record<string, () => void | Promise<void>> = {
  main,
  'http-upstream': runHttpUpstream,
  'tcp-peer': runTcpPeer,
  router: runRouter,
};
await roles[args.role]!();
