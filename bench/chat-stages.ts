/**
 * `npm run bench:chat-stages`: which part of ours' chat and embeddings CPU on bare workerd is the
 * runtime's price for the steps any validating gateway takes, and which is ours' own JavaScript.
 * One Worker (bench/lib/peers/chat-stages-worker.ts, bundled by esbuild) under the bench's bare
 * workerd (the `workerd-raw` runtime) answers the bench's chat and embeddings requests
 * (bench/lib/profile-requests.ts' bodies, the same as bench/run.ts') through a ladder of stages,
 * each one step more than the last: passthrough, body-native, read-body, json, answer-text,
 * read-answer, headers, then timer, validate and hono off headers, and minimal-gateway (all of
 * them). Beside it, on the bench's stack and fast fake upstream and in the same interleaved
 * windows (A B … B A): the passthrough Worker itself (`passthrough-workerd`), the I/O floor
 * (`io-floor-workerd`: the passthrough plus the limiter's Redis command and the usage row) and
 * ours (the `all` bundle on workerd-raw). The headline is workerd CPU ms per request (/proc), with
 * each one's ratio to the `passthrough` stage and what its own step costs in µs over the stage it
 * adds to.
 *   node bench/chat-stages.ts [--endpoints chat,embed] [--concurrency 1,8,32] [--seconds 2]
 *     [--rounds 2] [--stages ...] [--peers passthrough-workerd,io-floor-workerd|none]
 *     [--ours on|off] [--out bench/results]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { type Child, giveUpAfter, startChild } from './lib/children.ts';
import { findDescendants } from './lib/cpu.ts';
import { runAutocannon } from './lib/loadgen.ts';
import { median } from './lib/peers.ts';
import { profileRequest } from './lib/profile-requests.ts';
import { formatTable, machineInfo, round } from './lib/report.ts';
import { buildBundles, setupBench } from './lib/setup.ts';
import { mergeWindows, type WindowResult } from './lib/stats.ts';

/** Each stage and the one it adds a step to (what its µs are counted over). */
const STEP_OVER: Record<string, string | undefined> = {
  passthrough: undefined,
  'body-native': 'passthrough',
  'read-body': 'body-native',
  json: 'read-body',
  'answer-text': 'json',
  'read-answer': 'answer-text',
  headers: 'read-answer',
  timer: 'headers',
  validate: 'headers',
  hono: 'headers',
  'minimal-gateway': 'headers',
  'passthrough-workerd': 'passthrough',
  'io-floor-workerd': 'passthrough',
  ours: 'minimal-gateway',
};

const { values: args } = parseArgs({
  options: {
    endpoints: { type: 'string', default: 'chat,embed' },
    concurrency: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    /** Unmeasured load on every participant first, so JIT warm-up is in no window. */
    warmup: { type: 'string', default: '1' },
    stages: {
      type: 'string',
      default: Object.keys(STEP_OVER)
        .filter((s) => !['passthrough-workerd', 'io-floor-workerd', 'ours'].includes(s))
        .join(','),
    },
    peers: { type: 'string', default: 'passthrough-workerd,io-floor-workerd' },
    ours: { type: 'string', default: 'on' },
    bundle: { type: 'string', default: 'bench/.dist/all' },
    out: { type: 'string', default: 'bench/results' },
    'max-seconds': { type: 'string', default: '1200' },
  },
});
const log = (line: string) => console.log(`[chat-stages] ${line}`);
giveUpAfter('chat-stages', Number(args['max-seconds']));
const stages = args.stages!.split(',');
if (!stages.includes('passthrough')) throw new Error('--stages: the ratios are to `passthrough`: keep it');
for (const s of stages) if (!(s in STEP_OVER)) throw new Error(`--stages: no stage ${s}`);
const peers = args.peers === 'none' ? [] : args.peers!.split(',');

// setupBench starts ours' bundle with --ours off too (stopped before the windows): built either way.
if (!existsSync(join(args.bundle!, 'index.js'))) await buildBundles(['all'], join(args.bundle!, '..'));
const env = await setupBench({
  runtime: 'workerd-raw',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir: args.bundle!,
  redis: true,
  logLevel: 'warn',
  log,
});
const children: Array<Child<unknown>> = [];
const dir = mkdtempSync(join(tmpdir(), 'mas-chat-stages-'));

/** One participant: where its requests go and which processes' CPU is its own. */
interface Participant {
  name: string;
  origin: string;
  pids: number[];
}

try {
  await build({
    entryPoints: [join(import.meta.dirname, 'lib', 'peers', 'chat-stages-worker.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    outfile: join(dir, 'index.js'),
    logLevel: 'warning',
  });
  // The stage worker is served like ours (bench/lib/serve.ts, workerd-raw: its own bare workerd).
  const stageServer = await startChild<{ url: string }>(
    'stages',
    'bench/lib/serve.ts',
    ['workerd-raw', dir],
    {
      env: { BENCH_VARS: JSON.stringify({ UPSTREAM: env.upstream.info.url }) },
    },
  );
  children.push(stageServer);
  const stagePids = findDescendants(stageServer.pid, /^workerd/);
  const participants: Participant[] = stages.map((s) => ({
    name: s,
    origin: `${stageServer.info.url}/${s}`,
    pids: stagePids,
  }));
  for (const peer of peers) {
    const child = await startChild<{ url: string; pid: number }>(
      peer,
      'bench/lib/peer-process.ts',
      [peer, env.upstream.info.url],
      { env: { BENCH_VARS: JSON.stringify(env.vars) } },
    );
    children.push(child);
    participants.push({ name: peer, origin: child.info.url, pids: [child.info.pid] });
  }
  if (args.ours === 'on')
    participants.push({ name: 'ours', origin: env.fn.info.url, pids: env.watch.workerd });
  else await env.fn.stop();

  const endpoints = args.endpoints!.split(',');
  // One request of each kind first: a stage that fails is named here, not as 100 % errors.
  for (const endpoint of endpoints) {
    for (const p of participants) {
      const spec = profileRequest(endpoint, p.origin);
      const res = await fetch(spec.url, { method: 'POST', headers: spec.headers, body: spec.body });
      const text = await res.text();
      if (!res.ok || !text.includes('"usage"'))
        throw new Error(`${p.name} ${endpoint}: ${res.status} ${text.slice(0, 200)}`);
    }
  }
  for (const p of participants) {
    for (const endpoint of endpoints) {
      await runAutocannon(profileRequest(endpoint, p.origin), {
        concurrency: 8,
        warmupMs: (Number(args.warmup) * 1000) / endpoints.length,
        measureMs: 0,
        watch: {},
      });
    }
  }
  const loadAtStart = loadavg();
  log(`load average ${loadAtStart.map((l) => l.toFixed(2)).join(' / ')} at the start`);

  interface Acc {
    cpuMs: number;
    windows: WindowResult[];
  }
  const cells: Array<{
    endpoint: string;
    concurrency: number;
    loadAverage: number;
    rows: Array<Record<string, unknown>>;
  }> = [];
  for (const endpoint of endpoints) {
    for (const concurrency of args.concurrency!.split(',').map(Number)) {
      const acc = new Map<string, Acc>(participants.map((p) => [p.name, { cpuMs: 0, windows: [] }]));
      for (let r = 0; r < Number(args.rounds); r++) {
        for (const p of r % 2 ? [...participants].reverse() : participants) {
          const w = await runAutocannon(profileRequest(endpoint, p.origin), {
            concurrency,
            warmupMs: 300,
            measureMs: Number(args.seconds) * 1000,
            watch: { cpu: p.pids },
          });
          if (w.errors) throw new Error(`${p.name} ${endpoint} c=${concurrency}: ${w.errors} errors`);
          acc.get(p.name)!.cpuMs += w.cpuMs.cpu!;
          acc.get(p.name)!.windows.push(w);
        }
      }
      const perRequest = new Map<string, number>();
      for (const [name, a] of acc) {
        perRequest.set(name, a.cpuMs / a.windows.reduce((n, w) => n + w.requests, 0));
      }
      const floor = perRequest.get('passthrough')!;
      const rows = participants.map((p) => {
        const cpu = perRequest.get(p.name)!;
        const over = STEP_OVER[p.name];
        const base = over === undefined ? undefined : perRequest.get(over);
        const windows = acc.get(p.name)!.windows;
        const merged = mergeWindows(windows).latency.summary();
        // Each window's own figure: their spread says how far the machine's noise reaches.
        const perWindow = windows.map((w) => w.cpuMs.cpu! / w.requests);
        return {
          participant: p.name,
          requests: merged.n,
          cpuMsPerRequest: round(cpu, 4),
          windowsCpuMsPerRequest: perWindow.map((v) => round(v, 4)),
          windowMedian: round(median(perWindow), 4),
          ratio: round(cpu / floor, 2),
          stepOver: base === undefined ? null : over,
          stepUs: base === undefined ? null : round((cpu - base) * 1000, 1),
          p50: round(merged.p50, 3),
          p99: round(merged.p99, 3),
        };
      });
      // Ours less the minimal gateway and less the runtime's cost of the gateway's I/O.
      const io = perRequest.get('io-floor-workerd');
      const ours = perRequest.get('ours');
      const minimal = perRequest.get('minimal-gateway');
      const oursOwnUs =
        io !== undefined && ours !== undefined && minimal !== undefined
          ? round((ours - minimal - (io - floor)) * 1000, 1)
          : null;
      const load = loadavg()[0]!;
      cells.push({ endpoint, concurrency, loadAverage: round(load, 2), rows: [...rows] });
      console.log(
        `\n${endpoint} c=${concurrency}, load average ${load.toFixed(2)}` +
          (oursOwnUs === null
            ? ''
            : `; ours − minimal-gateway − (io floor − passthrough) = ${oursOwnUs} µs/req`) +
          `\n${formatTable(
            [
              'participant',
              'requests',
              'workerd cpu ms/req',
              'windows: median (min-max)',
              '/ passthrough',
              'its step µs/req',
              'p50 / p99 ms',
            ],
            rows.map((r) => [
              r.participant,
              String(r.requests),
              r.cpuMsPerRequest.toFixed(3),
              `${r.windowMedian.toFixed(3)} (${Math.min(...r.windowsCpuMsPerRequest).toFixed(3)}-${Math.max(...r.windowsCpuMsPerRequest).toFixed(3)})`,
              `${r.ratio.toFixed(2)}x`,
              r.stepUs === null ? '-' : `${r.stepUs.toFixed(1)} (over ${r.stepOver})`,
              `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}`,
            ]),
          )}`,
      );
      Object.assign(cells.at(-1)!, { oursOwnUs });
    }
  }
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${new Date().toISOString().slice(0, 10)}-chat-stages.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: machineInfo(),
        loadAverageAtStart: loadAtStart,
        config: {
          seconds: Number(args.seconds),
          rounds: Number(args.rounds),
          stages,
          peers,
          ours: args.ours === 'on',
          stepOver: STEP_OVER,
        },
        cells,
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${file}`);
} finally {
  for (const c of children.reverse()) await c.stop();
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
