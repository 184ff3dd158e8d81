/**
 * `npm run bench:isolate-start`: what a new isolate's first request costs beyond the runtime's own
 * (issue #23's "isolate start ≤ 10 ms"), three ways, each interleaved so that one run compares:
 *
 *   miniflare  (default) the bench's isolate cell: a fresh Miniflare per sample with one bundle,
 *              start → ready, then the first and a second GET /health; an empty Worker
 *              (`export default { fetch: () => new Response('ok') }`) takes its turn in every
 *              round, so `first − empty` is ours. Rounds alternate their order (A B … B A).
 *   --eval     each bundle imported in a fresh Node 24 process (Node's lazy fetch, URL and web
 *              crypto loaded before the clock), then its `fetch` called twice with GET /health:
 *              CPU of module evaluation, of the first request and of the second. On Cloudflare,
 *              module evaluation happens on the first request too, so a change counts only if
 *              eval + first falls.
 *   --young    where a new isolate's first young-generation scavenge falls, on bare workerd with
 *              V8's --trace-gc: at start-up, on the first GET /health, or later. Deterministic
 *              (allocation decides it, not the machine's load): each bundle is also started behind
 *              a module that allocates a pad of garbage first, and a bisection finds the smallest
 *              pad that moves the scavenge into start-up and the smallest that puts one into the
 *              first request. Their difference is what the first request allocates; the first
 *              pad is the room a bundle's start-up leaves before the first request pays a
 *              scavenge (~1-2 ms of CPU, by --raw) for what module evaluation left behind.
 *   --profile  a CPU profile of the first GET /health on bare workerd (its inspector, the
 *              DevTools protocol, `--interval` µs sampling), one fresh workerd per sample, the
 *              samples summed over `--samples` isolates and mapped through the bundle's source map:
 *              what the first request runs for the first time.
 *
 *   node bench/isolate-start.ts [--only health,chat] [--dist bench/.dist | --dist before=dirA,after=dirB]
 *                               [--rounds 7] [--eval] [--raw] [--young] [--profile chat] [--samples 5] [--interval 25]
 *                               [--no-miniflare] [--build] [--out bench/results]
 * `--dist` names one bundle folder (bench/.dist, built by `npm run bench` or `--build`) or several
 * labelled ones (e.g. main's bundles beside this tree's), whose deployments are interleaved.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { freePort } from '../local/ports.ts';
import { giveUpAfter } from './lib/children.ts';
import { breakdown, type CpuProfile, sourceMapRemap } from './lib/cpuprofile.ts';
import { median } from './lib/peers.ts';
import { formatTable, machineInfo, round } from './lib/report.ts';
import {
  bareWorkerdConfig,
  garbagePad,
  isolateSample,
  spawnTracedWorkerd,
  workerdBinary,
} from './lib/runtimes.ts';
import { buildBundles, deploymentsOf } from './lib/setup.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    dist: { type: 'string', default: 'bench/.dist' },
    rounds: { type: 'string', default: '7' },
    eval: { type: 'boolean', default: false },
    raw: { type: 'boolean', default: false },
    'raw-rounds': { type: 'string', default: '9' },
    'eval-rounds': { type: 'string', default: '7' },
    profile: { type: 'string' },
    samples: { type: 'string', default: '5' },
    interval: { type: 'string', default: '50' },
    'no-miniflare': { type: 'boolean', default: false },
    young: { type: 'boolean', default: false },
    'young-max-kb': { type: 'string', default: '2400' },
    build: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
    'max-seconds': { type: 'string', default: '1200' },
  },
});
giveUpAfter('isolate-start', Number(args['max-seconds']));
const log = (line: string) => console.log(`[isolate-start] ${line}`);
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

const dists = args.dist!.split(',').map((part) => {
  const [label, dir] = part.includes('=') ? part.split('=') : ['', part];
  return { label: label!, dir: dir! };
});
const deployments = (args.only ?? deploymentsOf().join(',')).split(',');
if (args.build) {
  if (dists.length > 1) throw new Error('--build builds one --dist');
  const t0 = performance.now();
  await buildBundles(deployments, dists[0]!.dir);
  log(`built ${deployments.join(', ')} in ${Math.round(performance.now() - t0)} ms`);
}
for (const { dir } of dists)
  for (const d of deployments)
    if (!existsSync(join(dir, d, 'index.js')))
      throw new Error(`${join(dir, d, 'index.js')} missing: run with --build (or npm run bench once)`);

/** The empty Worker: the runtime's (and Miniflare's) own first request. */
const emptyDir = mkdtempSync(join(tmpdir(), 'mas-empty-worker-'));
writeFileSync(join(emptyDir, 'index.js'), "export default { fetch: () => new Response('ok') };\n");
process.on('exit', () => rmSync(emptyDir, { recursive: true, force: true }));

interface Participant {
  name: string;
  dir: string;
}
const participants: Participant[] = [
  { name: 'empty Worker', dir: emptyDir },
  ...deployments.flatMap((d) =>
    dists.map(({ label, dir }) => ({ name: label ? `${d} (${label})` : d, dir: join(dir, d) })),
  ),
];
const machine = machineInfo();
log(`${machine.cpu}, ${machine.cores} cores, load average ${load()}`);

const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine,
  dists,
};

/** Rounds alternate the participants' order: A B C … C B A A B C …. */
function order<T>(list: T[], round: number): T[] {
  return round % 2 ? [...list].reverse() : list;
}

if (!args['no-miniflare']) {
  const rounds = Number(args.rounds);
  const samples = new Map<string, { start: number[]; first: number[]; warm: number[] }>();
  for (const p of participants) samples.set(p.name, { start: [], first: [], warm: [] });
  const loadBefore = load();
  for (let r = 0; r < rounds; r++) {
    for (const p of order(participants, r)) {
      const s = samples.get(p.name)!;
      const sample = await isolateSample(p.dir, p.name);
      s.start.push(sample.startMs);
      s.first.push(sample.firstMs);
      s.warm.push(sample.warmMs);
    }
  }
  const empty = median(samples.get('empty Worker')!.first);
  const rows = participants.map((p) => {
    const s = samples.get(p.name)!;
    return {
      name: p.name,
      startMs: round(median(s.start), 1),
      firstMs: round(median(s.first), 2),
      oursMs: round(median(s.first) - empty, 2),
      warmMs: round(median(s.warm), 2),
      firstSamplesMs: s.first.map((x) => round(x, 2)),
    };
  });
  console.log(
    `\nMiniflare, GET /health on a fresh isolate, medians of ${rounds} interleaved rounds ` +
      `(load average ${loadBefore} → ${load()}); "ours" = first − the empty Worker's first\n`,
  );
  console.log(
    formatTable(
      ['bundle', 'start→ready ms', 'first ms', 'ours ms', 'second ms', 'first, each sample'],
      rows.map((r) => [
        r.name,
        r.startMs.toFixed(1),
        r.firstMs.toFixed(2),
        r.oursMs.toFixed(2),
        r.warmMs.toFixed(2),
        r.firstSamplesMs.join(' '),
      ]),
    ),
  );
  result.miniflare = { rounds, loadavg: [loadBefore, load()], rows };
}

/**
 * One fresh Node 24 process: the bundle imported (CPU of module evaluation), then its `fetch`
 * called with GET /health twice (CPU of each). Node's lazily loaded globals are touched first.
 */
const EVAL_SCRIPT = `
const ctx = { waitUntil() {}, passThroughOnException() {} };
const env = { LOG_LEVEL: 'warn' };
// Node loads these on first touch; workerd has them in its snapshot.
await new Response(new Request('http://127.0.0.1/x', { headers: { a: 'b' } }).body ?? 'x').text();
await crypto.subtle.digest('SHA-256', new Uint8Array(1));
new URL('http://127.0.0.1/'); new TextEncoder(); new TextDecoder(); structuredClone({}); AbortSignal.timeout(1);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const t0 = cpu();
const mod = await import(process.argv[1]);
const t1 = cpu();
const r1 = await mod.default.fetch(new Request('http://127.0.0.1/health'), env, ctx);
await r1.text();
const t2 = cpu();
const r2 = await mod.default.fetch(new Request('http://127.0.0.1/health'), env, ctx);
await r2.text();
const t3 = cpu();
if (r1.status !== 200) throw new Error('first GET /health answered ' + r1.status);
console.log(JSON.stringify({ evalMs: t1 - t0, firstMs: t2 - t1, secondMs: t3 - t2 }));
`;

if (args.eval) {
  const rounds = Number(args['eval-rounds']);
  const list = participants;
  const samples = new Map<string, Array<{ evalMs: number; firstMs: number; secondMs: number }>>();
  for (const p of list) samples.set(p.name, []);
  const loadBefore = load();
  for (let r = 0; r < rounds; r++) {
    for (const p of order(list, r)) {
      const out = execFileSync(
        process.execPath,
        ['--input-type=module', '-e', EVAL_SCRIPT, resolve(p.dir, 'index.js')],
        { encoding: 'utf8' },
      );
      samples.get(p.name)!.push(JSON.parse(out.trim().split('\n').pop()!));
    }
  }
  const rows = list.map((p) => {
    const s = samples.get(p.name)!;
    const m = (k: 'evalMs' | 'firstMs' | 'secondMs') => round(median(s.map((x) => x[k])), 2);
    return {
      name: p.name,
      evalMs: m('evalMs'),
      firstMs: m('firstMs'),
      secondMs: m('secondMs'),
      evalPlusFirstMs: round(median(s.map((x) => x.evalMs + x.firstMs)), 2),
    };
  });
  console.log(
    `\nNode 24, fresh process per sample, CPU ms (process.cpuUsage), medians of ${rounds} ` +
      `interleaved rounds (load average ${loadBefore} → ${load()})\n`,
  );
  console.log(
    formatTable(
      ['bundle', 'module eval', 'first GET /health', 'second', 'eval + first'],
      rows.map((r) => [
        r.name,
        r.evalMs.toFixed(2),
        r.firstMs.toFixed(2),
        r.secondMs.toFixed(2),
        r.evalPlusFirstMs.toFixed(2),
      ]),
    ),
  );
  result.eval = { rounds, loadavg: [loadBefore, load()], rows };
}

/** A minimal DevTools protocol client: one request at a time, answered by id. */
async function inspector(url: string) {
  const ws = new WebSocket(url);
  await new Promise<void>((done, fail) => {
    ws.once('open', () => done());
    ws.once('error', fail);
  });
  let next = 1;
  const waiting = new Map<number, { done: (r: unknown) => void; fail: (e: unknown) => void }>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    const w = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (w) msg.error ? w.fail(msg.error) : w.done(msg.result);
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((done, fail) => {
        const id = next++;
        waiting.set(id, { done: done as (r: unknown) => void, fail });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Resolves once something accepts TCP connections on the port (no HTTP request is made). */
async function listening(port: number, deadline: number, exited: () => string | undefined) {
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        done(true);
      });
      s.once('error', () => done(false));
    });
    if (ok) return;
    const why = exited();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** CPU ns a process has run so far, all its threads (/proc/<pid>/task/<tid>/schedstat, field 1). */
function processRunNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return ns;
}

/** Whether a thread of the process is running or waiting for a core (state R in /proc). */
function anyThreadRunnable(pid: number): boolean {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'R') return true;
    } catch {
      // the thread ended
    }
  }
  return false;
}

/**
 * One bundle under a fresh bare `workerd serve` (nothing in front), with `inspect` its inspector
 * on too. Resolves once its socket accepts connections and its CPU stopped moving (start-up done),
 * without any HTTP request having been made.
 */
async function freshWorkerd(bundleDir: string, inspect: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'mas-isolate-'));
  const port = await freePort();
  const inspectorPort = inspect ? await freePort() : 0;
  copyFileSync(join(bundleDir, 'index.js'), join(dir, 'index.js'));
  writeFileSync(join(dir, 'config.capnp'), bareWorkerdConfig(port, ['index.js'], { LOG_LEVEL: 'warn' }));
  const serveArgs = ['serve', join(dir, 'config.capnp'), '--experimental'];
  if (inspect) serveArgs.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  const t0 = performance.now();
  const child = spawn(workerdBinary(), serveArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4000)));
  const exited = () => (child.exitCode === null ? undefined : `workerd exited: ${stderr}`);
  const stop = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await listening(port, Date.now() + 60_000, exited);
    const readyMs = performance.now() - t0;
    if (inspect) {
      await listening(inspectorPort, Date.now() + 60_000, exited);
      // The inspector can listen before it lists the worker.
      for (let tries = 0; ; tries++) {
        const list = await fetch(`http://127.0.0.1:${inspectorPort}/json/list`).then((r) => r.text());
        if (list.includes('/main"')) break;
        if (tries > 500) throw new Error(`the inspector never listed the worker: ${list}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // Start-up done when, three checks in a row 20 ms apart, no thread of workerd is runnable and
    // its CPU has not moved (CPU alone misleads on a loaded machine: a thread waiting for a core
    // uses none).
    for (let quiet = 0, last = -1; quiet < 3; ) {
      await new Promise((r) => setTimeout(r, 20));
      const now = processRunNs(child.pid!);
      quiet = now === last && !anyThreadRunnable(child.pid!) ? quiet + 1 : 0;
      last = now;
    }
    const startCpuMs = processRunNs(child.pid!) / 1e6;
    return { url: `http://127.0.0.1:${port}`, inspectorPort, pid: child.pid!, readyMs, startCpuMs, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

if (args.raw) {
  const rounds = Number(args['raw-rounds']);
  const samples = new Map<
    string,
    Array<{ startCpu: number; firstCpu: number; secondCpu: number; firstWall: number }>
  >();
  for (const p of participants) samples.set(p.name, []);
  const loadBefore = load();
  for (let r = 0; r < rounds; r++) {
    for (const p of order(participants, r)) {
      const w = await freshWorkerd(p.dir, false);
      try {
        const c0 = processRunNs(w.pid);
        const t0 = performance.now();
        const first = await fetch(`${w.url}/health`);
        await first.text();
        const t1 = performance.now();
        const c1 = processRunNs(w.pid);
        await (await fetch(`${w.url}/health`)).text();
        const c2 = processRunNs(w.pid);
        if (!first.ok) throw new Error(`${p.name}: first GET /health answered ${first.status}`);
        samples.get(p.name)!.push({
          startCpu: w.startCpuMs,
          firstCpu: (c1 - c0) / 1e6,
          secondCpu: (c2 - c1) / 1e6,
          firstWall: t1 - t0,
        });
      } finally {
        w.stop();
      }
    }
  }
  const m = (name: string, k: 'startCpu' | 'firstCpu' | 'secondCpu' | 'firstWall') =>
    median(samples.get(name)!.map((x) => x[k]));
  const emptyFirst = m('empty Worker', 'firstCpu');
  const emptyStart = m('empty Worker', 'startCpu');
  const rows = participants.map((p) => ({
    name: p.name,
    startCpuMs: round(m(p.name, 'startCpu'), 2),
    firstCpuMs: round(m(p.name, 'firstCpu'), 2),
    oursFirstCpuMs: round(m(p.name, 'firstCpu') - emptyFirst, 2),
    oursStartPlusFirstCpuMs: round(
      median(samples.get(p.name)!.map((x) => x.startCpu + x.firstCpu)) - emptyStart - emptyFirst,
      2,
    ),
    secondCpuMs: round(m(p.name, 'secondCpu'), 2),
    firstWallMs: round(m(p.name, 'firstWall'), 2),
    firstCpuSamplesMs: samples.get(p.name)!.map((x) => round(x.firstCpu, 2)),
  }));
  console.log(
    `\nbare workerd, a fresh process per sample, workerd's CPU (all threads, /proc schedstat), medians ` +
      `of ${rounds} interleaved rounds (load average ${loadBefore} → ${load()}); "ours" = minus the ` +
      `empty Worker's; start = spawn to idle (compile and module evaluation included)\n`,
  );
  console.log(
    formatTable(
      [
        'bundle',
        'start CPU',
        'first CPU',
        'ours, first',
        'ours, start + first',
        'second CPU',
        'first wall',
        'first CPU, each',
      ],
      rows.map((r) => [
        r.name,
        r.startCpuMs.toFixed(2),
        r.firstCpuMs.toFixed(2),
        r.oursFirstCpuMs.toFixed(2),
        r.oursStartPlusFirstCpuMs.toFixed(2),
        r.secondCpuMs.toFixed(2),
        r.firstWallMs.toFixed(2),
        r.firstCpuSamplesMs.join(' '),
      ]),
    ),
  );
  result.raw = { rounds, loadavg: [loadBefore, load()], rows };
}

/**
 * One fresh bare workerd with V8's --trace-gc, the bundle behind a module that first allocates
 * `padKb` KiB of garbage (garbagePad: 1 KiB arrays, dropped): how many young-generation
 * collections ran during start-up, during the first GET /health and during the second (V8's
 * trace, read off workerd's unbuffered stdout).
 */
async function gcProbe(bundleDir: string, padKb: number) {
  const dir = mkdtempSync(join(tmpdir(), 'mas-young-'));
  const port = await freePort();
  copyFileSync(join(bundleDir, 'index.js'), join(dir, 'index.js'));
  writeFileSync(join(dir, 'pad.js'), garbagePad(padKb));
  writeFileSync(join(dir, 'main.js'), "import './pad.js';\nexport { default } from './index.js';\n");
  writeFileSync(
    join(dir, 'config.capnp'),
    bareWorkerdConfig(port, ['main.js', 'pad.js', 'index.js'], { LOG_LEVEL: 'warn' }, ['--trace-gc']),
  );
  const child = spawnTracedWorkerd(join(dir, 'config.capnp'));
  let out = '';
  let stderr = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4000)));
  const collections = () =>
    (out.match(/: (Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-Sweep)\b/g) ?? []).length;
  // Settled: three checks 20 ms apart without a new trace line and without a runnable thread.
  const settle = async () => {
    for (let quiet = 0, last = -1; quiet < 3; ) {
      await new Promise((r) => setTimeout(r, 20));
      quiet = out.length === last && !anyThreadRunnable(child.pid!) ? quiet + 1 : 0;
      last = out.length;
    }
  };
  try {
    await listening(port, Date.now() + 60_000, () =>
      child.exitCode === null ? undefined : `workerd exited: ${stderr}`,
    );
    await settle();
    const start = collections();
    const first = await fetch(`http://127.0.0.1:${port}/health`);
    await first.text();
    if (!first.ok) throw new Error(`${bundleDir}: first GET /health answered ${first.status}`);
    await settle();
    const firstGcs = collections() - start;
    await (await fetch(`http://127.0.0.1:${port}/health`)).text();
    await settle();
    return { start, first: firstGcs, second: collections() - start - firstGcs };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The smallest pad (KiB, to `step`) for which `hit` holds, assuming it holds from there on. */
async function smallestPad(hit: (padKb: number) => Promise<boolean>, from: number, to: number, step = 8) {
  if (await hit(from)) return from;
  if (!(await hit(to))) return undefined;
  let lo = from;
  let hi = to;
  while (hi - lo > step) {
    const mid = Math.round((lo + hi) / 2);
    if (await hit(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

if (args.young) {
  const max = Number(args['young-max-kb']);
  const loadBefore = load();
  const rows: Array<Record<string, unknown>> = [];
  for (const p of participants) {
    const now = await gcProbe(p.dir, 0);
    const toStart = await smallestPad(async (kb) => (await gcProbe(p.dir, kb)).start > 0, 0, max);
    const toFirst =
      now.first > 0 || now.start > 0
        ? undefined
        : await smallestPad(async (kb) => (await gcProbe(p.dir, kb)).first > 0, 0, (toStart ?? max) - 8);
    rows.push({
      name: p.name,
      atStart: now.start,
      onFirst: now.first,
      onSecond: now.second,
      padToFirstKb: toFirst ?? null,
      padToStartKb: toStart ?? null,
      firstRequestKb: toFirst !== undefined && toStart !== undefined ? toStart - toFirst : null,
    });
  }
  console.log(
    `\nbare workerd --trace-gc, young-generation collections of a new isolate (load average ${loadBefore} → ` +
      `${load()}; load does not move these); "pad" = KiB of garbage allocated before the bundle's module ` +
      `evaluation; a first request without a scavenge needs "pad → start-up" above what the first request ` +
      `allocates (the empty Worker's "first request KiB")\n`,
  );
  console.log(
    formatTable(
      [
        'bundle',
        'at start-up',
        'on 1st GET',
        'on 2nd',
        'pad → 1st request KiB',
        'pad → start-up KiB',
        'first request KiB',
      ],
      rows.map((r) => [
        String(r.name),
        String(r.atStart),
        String(r.onFirst),
        String(r.onSecond),
        r.padToFirstKb === null ? '—' : String(r.padToFirstKb),
        r.padToStartKb === null ? `> ${max}` : String(r.padToStartKb),
        r.firstRequestKb === null ? '—' : String(r.firstRequestKb),
      ]),
    ),
  );
  result.young = { loadavg: [loadBefore, load()], rows };
}

if (args.profile) {
  const targets = args.profile.split(',');
  const n = Number(args.samples);
  const interval = Number(args.interval);
  const profiled: Record<string, unknown> = {};
  for (const target of targets) {
    const p = participants.find((x) => x.name === target);
    if (!p) throw new Error(`--profile: ${target} is none of ${participants.map((x) => x.name).join(', ')}`);
    const mapFile = join(p.dir, 'index.js.map');
    const remap = existsSync(mapFile) ? sourceMapRemap('index.js', mapFile) : undefined;
    const categories = new Map<string, number>();
    const top = new Map<string, { category: string; us: number }>();
    let busy = 0;
    let native = 0;
    const wall: number[] = [];
    const loadBefore = load();
    for (let i = 0; i < n; i++) {
      const w = await freshWorkerd(p.dir, true);
      try {
        const devtools = await inspector(`ws://127.0.0.1:${w.inspectorPort}/main`);
        await devtools.send('Profiler.enable');
        await devtools.send('Profiler.setSamplingInterval', { interval });
        await devtools.send('Profiler.start');
        const t0 = performance.now();
        const res = await fetch(`${w.url}/health`);
        await res.text();
        wall.push(performance.now() - t0);
        const { profile } = await devtools.send<{ profile: CpuProfile }>('Profiler.stop');
        devtools.close();
        if (!res.ok) throw new Error(`${target}: first GET /health answered ${res.status}`);
        const b = breakdown(profile, undefined, undefined, 400, remap);
        busy += b.busyUs;
        native += b.nativeUs;
        for (const c of b.categories) categories.set(c.category, (categories.get(c.category) ?? 0) + c.us);
        for (const t of b.top) {
          const e = top.get(t.fn) ?? { category: t.category, us: 0 };
          e.us += t.us;
          top.set(t.fn, e);
        }
      } finally {
        w.stop();
      }
    }
    const per = (us: number) => round(us / n / 1000, 3);
    console.log(
      `\nbare workerd, first GET /health of ${target}: ${n} fresh isolates, ${interval} µs sampling ` +
        `(load average ${loadBefore} → ${load()}); wall time with the profiler on ${wall
          .map((w) => w.toFixed(1))
          .join(' ')} ms; isolate thread sampled busy ${per(busy)} ms per first request, of it ` +
        `${round((100 * native) / Math.max(busy, 1), 1)} % native frames; ms per first request:\n`,
    );
    const cats = [...categories].sort((a, b) => b[1] - a[1]);
    console.log(
      formatTable(
        ['isolate thread, self time (builtins charged to their caller)', 'ms'],
        cats.map(([c, us]) => [c, per(us).toFixed(3)]),
      ),
    );
    const tops = [...top].sort((a, b) => b[1].us - a[1].us).slice(0, 30);
    console.log(
      `\n${formatTable(
        ['top functions (self)', 'category', 'ms'],
        tops.map(([fn, v]) => [fn.slice(0, 90), v.category, per(v.us).toFixed(3)]),
      )}`,
    );
    profiled[target] = {
      samples: n,
      intervalUs: interval,
      loadavg: [loadBefore, load()],
      wallMs: wall.map((w) => round(w, 2)),
      busyMsPerFirstRequest: per(busy),
      categories: cats.map(([category, us]) => ({ category, ms: per(us) })),
      top: tops.map(([fn, v]) => ({ fn, category: v.category, ms: per(v.us) })),
    };
  }
  result.profile = profiled;
}

mkdirSync(args.out!, { recursive: true });
const file = join(args.out!, `${new Date().toISOString().slice(0, 10)}-isolate-start.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote ${file}`);
process.exit(0);
