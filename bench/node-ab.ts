/**
 * `npm run bench:node-ab -- --a <bundle dir> [--b <bundle dir>]`: two servers of ours on Node
 * (each dir holds a deploy bundle's index.js, e.g. one built from main and one from a branch; B
 * defaults to A's bundle), each served by its own entry (bench/lib/serve-node.mjs unless
 * --a-entry / --b-entry name another script taking the same arguments, e.g. one trying other
 * server options) with its own Node flags, on the bench's stack and fake upstream, loaded in turn
 * A B B A and B A A B in turn per round and concurrency: CPU ms per request of each process (/proc), p50 and p99 over
 * all the windows' responses, B/A, and RSS after the cells. On a loaded machine only such
 * interleaved ratios mean much.
 * `--b-entry bench/lib/serve-floor-node.mjs` makes B the ten-line Hono floor (the bundle argument
 * ignored): ours against what Node costs for one forwarded call, allocation and promotion included.
 * With --probe each server also reports each window from inside (bench/lib/memory-report.mjs):
 * KiB allocated and promoted to old space per request, scavenges and their pause per second of
 * load, mark-compacts, and the event loop's delay p99, which is what says where a tail comes from.
 *   node bench/node-ab.ts --a DIR [--b DIR] [--endpoint chat|embed] [--concurrency 1,8,32]
 *                         [--seconds 2] [--rounds 3] [--a-entry FILE] [--b-entry FILE]
 *                         [--a-node-options=...] [--b-node-options=--max-semi-space-size=32]
 *                         [--a-env KEY=VALUE,...] [--b-env MAS_NODE_FETCH=native]
 *                         [--warmup 2] [--probe] [--heap-profile all|promoted] [--out DIR]
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { giveUpAfter, startChild } from './lib/children.ts';
import { processMemoryMiB } from './lib/cpu.ts';
import { type CallFrame, categoryOf, sourceMapRemap } from './lib/cpuprofile.ts';
import { runAutocannon, sleep } from './lib/loadgen.ts';
import { profileRequest } from './lib/profile-requests.ts';
import { formatTable, round } from './lib/report.ts';
import { setupBench } from './lib/setup.ts';
import { mergeWindows, type WindowResult } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    'a-entry': { type: 'string', default: 'bench/lib/serve-node.mjs' },
    'b-entry': { type: 'string', default: 'bench/lib/serve-node.mjs' },
    endpoint: { type: 'string', default: 'chat' },
    concurrency: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    /** Unmeasured load on each side first, so JIT warm-up is in neither side's windows. */
    warmup: { type: 'string', default: '2' },
    /** Node flags for one side's process only (e.g. --max-semi-space-size=32): the same bundle twice. */
    'a-node-options': { type: 'string', default: '' },
    'b-node-options': { type: 'string', default: '' },
    /** More environment for one side's process only, KEY=VALUE,... (e.g. MAS_NODE_FETCH=native). */
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
    probe: { type: 'boolean', default: false },
    /** A sampling heap profile of each side's windows: every allocation, or only what a scavenge promoted. */
    'heap-profile': { type: 'string' },
    /** Where --heap-profile's files go (default: a temp dir, printed). */
    out: { type: 'string' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
if (!args.a) throw new Error('--a: a bundle dir (with index.js); --b defaults to the same');
giveUpAfter('node-ab', Number(args['max-seconds']));
const log = (line: string) => console.log(`[node-ab] ${line}`);
const probing = args.probe || args['heap-profile'] !== undefined;
const probeDir = probing ? (args.out ?? mkdtempSync(join(tmpdir(), 'node-ab-'))) : undefined;
if (probeDir) mkdirSync(probeDir, { recursive: true });

const env = await setupBench({
  runtime: 'node-bundle',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir: args.a,
  redis: true,
  logLevel: 'warn',
  log,
});
// The stack's own function server is not one of the sides: both are started alike below.
await env.fn.stop();
const start = (who: 'a' | 'b', bundle: string) =>
  startChild<{ url: string }>(who, args[`${who}-entry`]!, [`${bundle}/index.js`], {
    env: {
      BENCH_VARS: JSON.stringify(env.vars),
      NODE_OPTIONS: args[`${who}-node-options`],
      ...sideEnv(args[`${who}-env`]!),
      ...(probeDir ? { BENCH_PROBE_DIR: probeDir } : {}),
      ...(args['heap-profile'] ? { BENCH_PROBE_HEAP: args['heap-profile'] } : {}),
    },
  });
const children = { a: await start('a', args.a), b: await start('b', args.b ?? args.a) };

/** `KEY=VALUE,KEY2=VALUE2` as an env object. */
function sideEnv(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list.split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--a-env/--b-env: KEY=VALUE, not ${pair}`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

interface Probe {
  requests: number;
  allocatedKiB: number;
  promotedKiB: number;
  gc: Record<string, { count: number; pauseMs: number; maxMs: number }>;
  loopDelayMs: { p50: number; p99: number; max: number };
}
/** Asks a side to start (or end) a probe window; at the end waits for what it wrote. */
async function probeWindow(pid: number, end: boolean): Promise<Probe | undefined> {
  if (!probeDir) return undefined;
  const file = join(probeDir, `probe-${pid}.json`);
  if (end) rmSync(file, { force: true });
  process.kill(pid, 'SIGWINCH');
  if (!end) return sleep(50).then(() => undefined);
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(25);
  return JSON.parse(readFileSync(file, 'utf8')) as Probe;
}

for (const who of ['a', 'b'] as const) {
  await runAutocannon(profileRequest(args.endpoint!, children[who].info.url), {
    concurrency: 8,
    warmupMs: Number(args.warmup) * 1000,
    measureMs: 0,
    watch: {},
  });
}
/** Per side: bytes sampled by category and by allocating site, and the requests they came from. */
const heap = { a: newHeapTotals(), b: newHeapTotals() };
const remaps = new Map<string, (f: CallFrame) => CallFrame>();
const rows: string[][] = [];
const probeRows: string[][] = [];
try {
  for (const concurrency of args.concurrency!.split(',').map(Number)) {
    const side = () => ({ cpu: 0, n: 0, windows: [] as WindowResult[], seconds: 0, probes: [] as Probe[] });
    const acc = { a: side(), b: side() };
    for (let r = 0; r < Number(args.rounds); r++) {
      // A B B A, then B A A B: the two sides in every position equally (a fixed A B B A order
      // measured the same server 1.10-1.15x dearer as B than as A).
      for (const who of r % 2 ? (['b', 'a', 'a', 'b'] as const) : (['a', 'b', 'b', 'a'] as const)) {
        const { pid, info } = children[who];
        await probeWindow(pid, false);
        const t0 = performance.now();
        const w = await runAutocannon(profileRequest(args.endpoint!, info.url), {
          concurrency,
          warmupMs: 300,
          measureMs: (Number(args.seconds) * 1000) / 2,
          watch: { [who]: pid },
        });
        const seconds = (performance.now() - t0) / 1000;
        const probe = await probeWindow(pid, true);
        if (w.errors) throw new Error(`${who}: ${w.errors} errors`);
        acc[who].cpu += w.cpuMs[who]!;
        acc[who].n += w.requests;
        acc[who].windows.push(w);
        if (probe && args['heap-profile'])
          addHeapProfile(who, join(probeDir!, `probe-${pid}.heapprofile`), probe.requests);
        if (probe) {
          acc[who].probes.push(probe);
          acc[who].seconds += seconds;
        }
      }
    }
    const cpu = (s: typeof acc.a) => s.cpu / s.n;
    const lat = (s: typeof acc.a) => mergeWindows(s.windows).latency.summary();
    rows.push([
      String(concurrency),
      round(cpu(acc.a), 3).toFixed(3),
      round(cpu(acc.b), 3).toFixed(3),
      `${round(cpu(acc.b) / cpu(acc.a), 2)}×`,
      `${round(lat(acc.a).p50, 2)} / ${round(lat(acc.a).p99, 2)}`,
      `${round(lat(acc.b).p50, 2)} / ${round(lat(acc.b).p99, 2)}`,
      `${acc.a.n} / ${acc.b.n}`,
    ]);
    log(`c=${concurrency}: ${rows.at(-1)!.join('  ')}`);
    if (probeDir)
      for (const who of ['a', 'b'] as const)
        probeRows.push([String(concurrency), who, ...probeSummary(acc[who])]);
  }
  const rss = (pid: number) => round(processMemoryMiB(pid).rss, 1);
  console.log(`\nRSS after the cells: A ${rss(children.a.pid)} MiB, B ${rss(children.b.pid)} MiB`);
  console.log(
    `\n${args.endpoint}: A = ${args.a} ${args['a-entry']} ${args['a-node-options']} ${args['a-env']}, B = ${args.b ?? args.a} ${
      args['b-entry']
    } ${args['b-node-options']} ${args['b-env']}\n${formatTable(
      ['c', 'A cpu ms/req', 'B cpu ms/req', 'B/A', 'A p50 / p99 ms', 'B p50 / p99 ms', 'requests A / B'],
      rows,
    )}`,
  );
  if (args['heap-profile']) printHeapProfiles();
  if (probeDir) {
    console.log(
      `\nFrom inside each server (${probeDir}):\n${formatTable(
        [
          'c',
          'side',
          'KiB alloc / req',
          'KiB promoted / req',
          'scavenges / s',
          'scavenge ms / s (max)',
          'mark-compacts (ms)',
          'loop delay p99 / max ms',
        ],
        probeRows,
      )}`,
    );
  }
} finally {
  await children.b.stop();
  await children.a.stop();
  await env.stop();
}
process.exit(0);

function probeSummary(s: { probes: Probe[]; seconds: number }): string[] {
  const sum = (f: (p: Probe) => number) => s.probes.reduce((t, p) => t + f(p), 0);
  const requests = sum((p) => p.requests);
  const gc = (kind: string, f: 'count' | 'pauseMs') => sum((p) => p.gc[kind]?.[f] ?? 0);
  const gcMax = (kind: string) => Math.max(0, ...s.probes.map((p) => p.gc[kind]?.maxMs ?? 0));
  const scavenges = gc('Scavenge', 'count') + gc('MinorMarkSweep', 'count');
  const scavengeMs = gc('Scavenge', 'pauseMs') + gc('MinorMarkSweep', 'pauseMs');
  const marks = gc('MarkSweepCompact', 'count');
  const markMs = gc('MarkSweepCompact', 'pauseMs') + gc('IncrementalMarking', 'pauseMs');
  const med = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)] ?? Number.NaN;
  return [
    round(sum((p) => p.allocatedKiB) / requests, 1).toFixed(1),
    round(sum((p) => p.promotedKiB) / requests, 2).toFixed(2),
    round(scavenges / s.seconds, 1).toFixed(1),
    `${round(scavengeMs / s.seconds, 2)} (${round(Math.max(gcMax('Scavenge'), gcMax('MinorMarkSweep')), 2)})`,
    `${marks} (${round(markMs, 1)})`,
    `${round(med(s.probes.map((p) => p.loopDelayMs.p99)), 2)} / ${round(Math.max(...s.probes.map((p) => p.loopDelayMs.max)), 1)}`,
  ];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
function newHeapTotals() {
  return { requests: 0, categories: new Map<string, number>(), sites: new Map<string, number>() };
}

/**
 * Adds one window's sampling heap profile: each sampled byte is charged to the nearest frame with
 * a URL (a builtin such as JSON.parse counts as its caller's), bundle frames mapped back to their
 * sources, and also, as a site, to that frame's function and line with the nearest frame of the
 * bundle above it (which of our calls made Node allocate).
 */
function addHeapProfile(who: 'a' | 'b', file: string, requests: number): void {
  const bundle = `${args[who] ?? args.a}/index.js`;
  let remap = remaps.get(bundle);
  if (!remap) {
    remap = existsSync(`${bundle}.map`) ? sourceMapRemap('index.js', `${bundle}.map`) : (f: CallFrame) => f;
    remaps.set(bundle, remap);
  }
  const totals = heap[who];
  totals.requests += requests;
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const walk = (node: HeapNode, category: string, site: string, caller: string) => {
    const frame = remap(node.callFrame);
    // The map names sources relative to the bundle's dir; categories want them from the repo root.
    if (frame.url.startsWith('../')) frame.url = relative(process.cwd(), resolve(dirname(bundle), frame.url));
    const own = categoryOf(frame);
    if (own) {
      category = own;
      site = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^(\.\.\/)+/, '').replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
      if (!own.startsWith('node:')) caller = site;
    }
    if (node.selfSize > 0) {
      totals.categories.set(category, (totals.categories.get(category) ?? 0) + node.selfSize);
      const key = own?.startsWith('node:') || category.startsWith('node:') ? `${site} <- ${caller}` : site;
      totals.sites.set(key, (totals.sites.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, category, site, caller);
  };
  walk(head, 'V8, no frame with a URL', '(none)', '(none)');
}

function printHeapProfiles(): void {
  for (const who of ['a', 'b'] as const) {
    const { requests, categories, sites } = heap[who];
    const kib = (bytes: number) => round(bytes / 1024 / requests, 2).toFixed(2);
    const sorted = (m: Map<string, number>, n: number) =>
      [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, n);
    const total = [...categories.values()].reduce((t, v) => t + v, 0);
    console.log(
      `\n${who.toUpperCase()}: sampled allocation (${args['heap-profile']}), ${kib(total)} KiB per request over ${requests} requests\n${formatTable(
        ['KiB / req', 'where'],
        sorted(categories, 30).map(([k, v]) => [kib(v), k]),
      )}\n${formatTable(
        ['KiB / req', 'site (<- nearest frame outside Node)'],
        sorted(sites, 40).map(([k, v]) => [kib(v), k]),
      )}`,
    );
  }
}
