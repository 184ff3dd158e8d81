/**
 * `npm run bench:profile-workerd`: how much of ours' CPU per request on bare workerd is the
 * isolate's JavaScript and how much the runtime's own code (HTTP in and out, fetch, streams, I/O).
 * Starts the bench's stack and fake, ours on `workerd-raw` with workerd's inspector on, loads one
 * endpoint, and records a CPU profile of the isolate through the DevTools protocol (Profiler.start
 * / stop) over exactly the measured window; frames are mapped back to their modules through the
 * deploy bundle's source map. The sampler runs on wall time (a descheduled thread is still sampled
 * in its frame), so samples give shares of the isolate thread's time, split into JavaScript frames
 * and native ones (runtime APIs called from JavaScript, GC, (program)); /proc gives the CPU. What
 * workerd does outside the isolate (its HTTP server, sockets) is the thread's idle samples.
 *   node bench/profile-workerd.ts [--endpoint chat|embed|stream] [--concurrency 8] [--seconds 6]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { freePort } from '../local/ports.ts';
import { giveUpAfter } from './lib/children.ts';
import { breakdown, type CpuProfile, sourceMapRemap } from './lib/cpuprofile.ts';
import { runAutocannon } from './lib/loadgen.ts';
import { PROFILE_OPTIONS, profileEndpoint, profileRequest } from './lib/profile-requests.ts';
import { formatTable, round } from './lib/report.ts';
import { buildBundles, setupBench } from './lib/setup.ts';
import { runStreams } from './lib/stream-client.ts';

const { values: args } = parseArgs({ options: PROFILE_OPTIONS });
const endpoint = profileEndpoint(args.endpoint);
const concurrency = Number(args.concurrency);
const log = (line: string) => console.log(`[profile-workerd] ${line}`);
giveUpAfter('profile-workerd', Number(args['max-seconds']));

const bundleDir = 'bench/.dist/all';
if (!existsSync(join(bundleDir, 'index.js'))) await buildBundles(['all'], 'bench/.dist');
const inspectorPort = await freePort();
const env = await setupBench({
  runtime: 'workerd-raw',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir,
  redis: true,
  logLevel: 'warn',
  log,
  fnEnv: { BENCH_INSPECTOR_PORT: String(inspectorPort) },
});

/** A minimal DevTools protocol client: one request at a time, answered by id. */
async function inspector(url: string) {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.error ? Promise.reject(msg.error) : msg.result);
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        const id = next++;
        waiting.set(id, resolve as (r: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

try {
  const spec = profileRequest(endpoint, env.fn.info.url);
  const run = (measureMs: number, watch: Record<string, number | number[]>) =>
    (endpoint === 'stream' ? runStreams : runAutocannon)(spec, {
      concurrency,
      warmupMs: 0,
      measureMs,
      watch,
    });
  await run(Number(args.warmup) * 1000, {});
  const devtools = await inspector(`ws://127.0.0.1:${inspectorPort}/main`);
  await devtools.send('Profiler.enable');
  await devtools.send('Profiler.setSamplingInterval', { interval: Number(args.interval) });
  await devtools.send('Profiler.start');
  const w = await run(Number(args.seconds) * 1000, { tree: env.fn.pid, workerd: env.watch.workerd });
  const { profile } = await devtools.send<{ profile: CpuProfile }>('Profiler.stop');
  devtools.close();
  // BENCH_PROFILE_RAW=<file>: the isolate's profile as recorded (bundle frames, unmapped), for DevTools or a script.
  if (process.env.BENCH_PROFILE_RAW) writeFileSync(process.env.BENCH_PROFILE_RAW, JSON.stringify(profile));
  const b = breakdown(
    profile,
    undefined,
    undefined,
    25,
    sourceMapRemap('index.js', join(bundleDir, 'index.js.map')),
  );
  const n = w.requests;
  const workerdUs = (w.cpuMs.workerd! * 1000) / n;
  const windowUs = w.seconds * 1e6;
  // Samples give shares of the isolate thread's time; /proc gives the CPU (see the header).
  const perReq = (us: number) => round((workerdUs * us) / b.busyUs, 1);
  const nativeShare = b.nativeUs / b.busyUs;
  console.log(
    `\nours on bare workerd: ${endpoint} c=${concurrency}, ${n} requests, ${w.errors} errors; ` +
      `workerd process CPU ${round(workerdUs, 1)} µs/req (/proc); the isolate thread was sampled busy ` +
      `${round((100 * b.busyUs) / windowUs, 0)} % of the window (idle ${round((100 * b.idleUs) / windowUs, 0)} %); ` +
      `of its busy samples ${round(100 * nativeShare, 1)} % were in native frames (runtime APIs called from ` +
      `JavaScript: fetch, WebSocket send, body reads, TextDecoder; GC; (program)) and ` +
      `${round(100 * (1 - nativeShare), 1)} % in JavaScript; shares below are of the busy samples, ` +
      `µs/req = share × the workerd CPU\n`,
  );
  console.log(
    formatTable(
      ['isolate thread, self time (builtins charged to their caller)', 'µs/req', '% of busy samples'],
      b.categories.map((c) => [c.category, perReq(c.us).toFixed(1), ((100 * c.us) / b.busyUs).toFixed(1)]),
    ),
  );
  console.log(
    `\n${formatTable(
      ['top functions (self)', 'category', 'µs/req'],
      b.top.slice(0, 15).map((t) => [t.fn.slice(0, 80), t.category, perReq(t.us).toFixed(1)]),
    )}`,
  );
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${new Date().toISOString().slice(0, 10)}-profile-workerd-${endpoint}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        endpoint,
        concurrency,
        requests: n,
        workerdCpuUsPerRequest: round(workerdUs, 1),
        processTreeCpuUsPerRequest: round((w.cpuMs.tree! * 1000) / n, 1),
        windowSeconds: round(w.seconds, 3),
        isolateBusyShareOfWindow: round(b.busyUs / windowUs, 3),
        nativeShareOfBusy: round(nativeShare, 3),
        categories: b.categories.map((c) => ({ category: c.category, usPerRequest: perReq(c.us) })),
        top: b.top.map((t) => ({ ...t, usPerRequest: perReq(t.us) })),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwrote ${file}`);
} finally {
  await env.stop();
}
process.exit(0);
