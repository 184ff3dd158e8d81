/**
 * `npm run bench:isolate-start`: what a new isolate's first request costs beyond the runtime's own
 * (issue #23's "isolate start ≤ 10 ms"), three ways, each interleaved so that one run compares:
 *
 *   miniflare  (default) the bench's isolate cell: a fresh Miniflare per sample with one bundle,
 *              start → ready, then its first request and a second (`--first`); an empty Worker
 *              (`export default { fetch: () => new Response('ok') }`) takes its turn in every
 *              round, so `first − empty` is ours. Rounds alternate their order (A B … B A).
 *   --eval     each bundle imported in a fresh Node 24 process (Node's lazy fetch, URL and web
 *              crypto loaded before the clock), then its `fetch` called twice (`--first`):
 *              CPU of module evaluation, of the first request and of the second. On Cloudflare,
 *              module evaluation happens on the first request too, so a change counts only if
 *              eval + first falls.
 *   --young    where a new isolate's first young-generation scavenge falls, on bare workerd with
 *              V8's --trace-gc: at start-up, on the first request, or later. Deterministic
 *              (allocation decides it, not the machine's load): each bundle is also started behind
 *              a module that allocates a pad of garbage first, and a bisection finds the smallest
 *              pad that moves the scavenge into start-up and the smallest that puts one into the
 *              first request. Their difference is what the first request allocates; the first
 *              pad is the room a bundle's start-up leaves before the first request pays a
 *              scavenge (~1-2 ms of CPU, by --raw) for what module evaluation left behind.
 *   --profile  a CPU profile of the first request on bare workerd (its inspector, the
 *              DevTools protocol, `--interval` µs sampling), one fresh workerd per sample, the
 *              samples summed over `--samples` isolates and mapped through the bundle's source map:
 *              what the first request runs for the first time.
 *
 * `--first` says what that first request is (bench/lib/first-requests.ts), in every mode:
 *   health     (default) GET /health, which every deployment answers without I/O: what start-up
 *              leaves the first request. Each bundle gets only LOG_LEVEL=warn.
 *   real       the deployment's main route doing its real work: chat and all POST
 *              /v1/chat/completions, messages POST /v1/messages, embed POST /v1/embeddings, usage
 *              GET /v1/usage, audit POST /v1/audit/actions, approval a decision on a pending
 *              approval made for the sample, proxy a GET through the mindex integration, mcp a
 *              tools/call, ready GET /ready, health GET /health. The bench stack is started for it
 *              (bench/lib/setup.ts: DATABASE_URL or embedded PGlite, Redis behind the Upstash
 *              bridge, the fake upstream and MCP server, and `all` on Node, which makes approval's
 *              pending approvals), and every bundle, the empty Worker too, gets the bench's vars. A
 *              schema, driver or built-in deferred to first use is paid here, not under `health`.
 *              The I/O floor Worker (bench/lib/peers/io-floor-worker.ts: the passthrough plus the
 *              Redis command and the usage row, made as ours makes them) takes its turn with the
 *              chat request (`I/O floor Worker real`; not under --eval, where Node has no
 *              cloudflare:sockets): the runtime's own first fetch, Upstash command and Postgres
 *              connection, so "over the I/O floor" (a real first − the floor's) is ours. Usage rows
 *              are written at once (USAGE_FLUSH_MS=0), inside the first request's count.
 *   health,real  both, as separate participants of the same interleaved run (`chat` and
 *              `chat real`), all with the bench's vars: the difference is the request alone.
 * The second request is the same as the first (approval: another pending approval). The empty
 * Worker always answers GET /health.
 *
 *   node bench/isolate-start.ts [--only health,chat] [--dist bench/.dist | --dist before=dirA,after=dirB]
 *                               [--first health | real | health,real]
 *                               [--rounds 7] [--eval] [--raw] [--young] [--profile chat] [--samples 5] [--interval 25]
 *                               [--no-miniflare] [--build] [--out bench/results]
 * `--dist` names one bundle folder (bench/.dist, built by `npm run bench` or `--build`) or several
 * labelled ones (e.g. main's bundles beside this tree's), whose deployments are interleaved.
 * `--profile` names participants as the tables do (`chat`, `chat (after)`, `chat real`).
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
import {
  answerProblem,
  type FirstKind,
  type FirstRequest,
  firstKinds,
  firstRequest,
  needsSeed,
  seed,
  sendFirst,
} from './lib/first-requests.ts';
import { median } from './lib/peers.ts';
import { formatTable, machineInfo, round } from './lib/report.ts';
import {
  bareWorkerdConfig,
  emptyWorkerBundle,
  garbagePad,
  ioFloorWorkerBundle,
  isolateSample,
  spawnTracedWorkerd,
  workerdBinary,
} from './lib/runtimes.ts';
import { type BenchEnv, buildBundles, deploymentsOf, setupBench } from './lib/setup.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    dist: { type: 'string', default: 'bench/.dist' },
    first: { type: 'string', default: 'health' },
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
    'young-v8': { type: 'string' },
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
const emptyDir = emptyWorkerBundle();

interface Participant {
  name: string;
  dir: string;
  deployment: string;
  first: FirstKind;
  /** The I/O floor Worker: a Worker of workerd's own APIs (cloudflare:sockets), not for --eval. */
  floor?: true;
}
const kinds = firstKinds(args.first!);
/** The name of the I/O floor's participant, there when a real first request is asked for. */
const FLOOR = 'I/O floor Worker real';
const participants: Participant[] = [
  { name: 'empty Worker', dir: emptyDir, deployment: 'health', first: 'health' },
  // A real first request's floor: the runtime's first fetch, Upstash command and Postgres
  // connection, made as ours makes them, for the same chat request.
  ...(kinds.includes('real')
    ? [
        {
          name: FLOOR,
          dir: ioFloorWorkerBundle(),
          deployment: 'chat',
          first: 'real' as const,
          floor: true as const,
        },
      ]
    : []),
  ...deployments.flatMap((d) =>
    kinds.flatMap((first) =>
      dists.map(({ label, dir }) => ({
        name: `${d}${label ? ` (${label})` : ''}${first === 'real' ? ' real' : ''}`,
        dir: join(dir, d),
        deployment: d,
        first,
      })),
    ),
  ),
];
const machine = machineInfo();
log(`${machine.cpu}, ${machine.cores} cores, load average ${load()}`);

// Real first requests need the bench's stack; its `all` on Node (the `fn` child) makes the
// pending approvals approval's real request decides.
let stack: BenchEnv | undefined;
if (kinds.includes('real')) {
  stack = await setupBench({
    runtime: 'node',
    upstream: {},
    bundleDir: join(dists[0]!.dir, 'all'),
    redis: true,
    logLevel: 'warn',
    log,
  });
}
/** Every bundle's bindings: the bench's vars (the mindex integration on the fake) with the stack. */
const vars: Record<string, string> = stack
  ? {
      ...stack.vars,
      MINDEX_API_URL: stack.upstream.info.url,
      UPSTREAM: stack.upstream.info.url,
      // A usage row written at once, not 250 ms later, so its Postgres connection is counted in
      // the first request (whose count ends when the process is quiet) for ours and the floor alike.
      USAGE_FLUSH_MS: '0',
    }
  : { LOG_LEVEL: 'warn' };
/** `first` of a real participant minus the I/O floor's (undefined for the rest, or with no floor). */
const overFloor = (p: Participant, first: number, floorFirst: number | undefined) =>
  p.first === 'real' && !p.floor && floorFirst !== undefined ? round(first - floorFirst, 2) : undefined;
/** A participant's first (or second) request, its pending approval made first when it needs one. */
const requestOf = async (p: Participant): Promise<FirstRequest> =>
  firstRequest(
    p.deployment,
    p.first,
    needsSeed(p.deployment, p.first) ? await seed(stack!.fn.info.url) : undefined,
  );
const firstLabel =
  kinds.length > 1
    ? 'first request (GET /health, or real)'
    : kinds[0] === 'real'
      ? 'real first request'
      : 'first GET /health';

const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine,
  dists,
  first: kinds,
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
      const sample = await isolateSample(p.dir, p.name, { vars, request: () => requestOf(p) });
      s.start.push(sample.startMs);
      s.first.push(sample.firstMs);
      s.warm.push(sample.warmMs);
    }
  }
  const empty = median(samples.get('empty Worker')!.first);
  const floorSamples = samples.get(FLOOR);
  const floorFirst = floorSamples && median(floorSamples.first);
  const rows = participants.map((p) => {
    const s = samples.get(p.name)!;
    return {
      name: p.name,
      deployment: p.deployment,
      first: p.first,
      startMs: round(median(s.start), 1),
      firstMs: round(median(s.first), 2),
      oursMs: round(median(s.first) - empty, 2),
      oursOverIoFloorMs: overFloor(p, median(s.first), floorFirst),
      warmMs: round(median(s.warm), 2),
      firstSamplesMs: s.first.map((x) => round(x, 2)),
    };
  });
  console.log(
    `\nMiniflare, ${firstLabel} of a fresh isolate, medians of ${rounds} interleaved rounds ` +
      `(load average ${loadBefore} → ${load()}); "ours" = first − the empty Worker's first` +
      (floorFirst === undefined ? '' : `; "over the I/O floor" = a real first − the I/O floor Worker's`) +
      '\n',
  );
  console.log(
    formatTable(
      [
        'bundle',
        'start→ready ms',
        'first ms',
        'ours ms',
        ...(floorFirst === undefined ? [] : ['over the I/O floor ms']),
        'second ms',
        'first, each sample',
      ],
      rows.map((r) => [
        r.name,
        r.startMs.toFixed(1),
        r.firstMs.toFixed(2),
        r.oursMs.toFixed(2),
        ...(floorFirst === undefined ? [] : [r.oursOverIoFloorMs?.toFixed(2) ?? '']),
        r.warmMs.toFixed(2),
        r.firstSamplesMs.join(' '),
      ]),
    ),
  );
  result.miniflare = { rounds, loadavg: [loadBefore, load()], rows };
}

/**
 * One fresh Node 24 process: the bundle imported (CPU of module evaluation), then its `fetch`
 * called with the first request and with the second (argv: bundle, vars, both requests as JSON),
 * CPU of each up to its answer read and its waitUntil work done. Node's lazily loaded globals are
 * touched first. It prints each answer's status and text for answerProblem, the check every other
 * first request gets (a 200 without what the request asked for is not a first request's cost). It
 * exits itself: a Postgres connection would keep it alive.
 */
const EVAL_SCRIPT = `
const [path, varsJson, firstJson, secondJson] = process.argv.slice(1);
const env = JSON.parse(varsJson);
const pending = [];
const ctx = { waitUntil(p) { pending.push(p); }, passThroughOnException() {} };
// Node loads these on first touch; workerd has them in its snapshot.
await new Response(new Request('http://127.0.0.1/x', { headers: { a: 'b' } }).body ?? 'x').text();
await crypto.subtle.digest('SHA-256', new Uint8Array(1));
new URL('http://127.0.0.1/'); new TextEncoder(); new TextDecoder(); structuredClone({}); AbortSignal.timeout(1);
// With the stack (--first real): Node's fetch (undici) and node:net loaded by one request first.
if (process.env.BENCH_WARM_URL) await (await fetch(process.env.BENCH_WARM_URL)).text();
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const send = async (mod, spec) => {
  const init = { method: spec.method, headers: spec.headers };
  if (spec.body) init.body = spec.body;
  const res = await mod.default.fetch(new Request('http://127.0.0.1' + spec.path, init), env, ctx);
  const text = await res.text();
  await Promise.allSettled(pending.splice(0));
  return { status: res.status, text };
};
const t0 = cpu();
const mod = await import(path);
const t1 = cpu();
const first = await send(mod, JSON.parse(firstJson));
const t2 = cpu();
const second = await send(mod, JSON.parse(secondJson));
const t3 = cpu();
console.log(JSON.stringify({ evalMs: t1 - t0, firstMs: t2 - t1, secondMs: t3 - t2, answers: [first, second] }));
process.exit(0);
`;

interface EvalSample {
  evalMs: number;
  firstMs: number;
  secondMs: number;
}

if (args.eval) {
  const rounds = Number(args['eval-rounds']);
  // The I/O floor imports cloudflare:sockets, which Node has not.
  const list = participants.filter((p) => !p.floor);
  const samples = new Map<string, EvalSample[]>();
  for (const p of list) samples.set(p.name, []);
  const loadBefore = load();
  for (let r = 0; r < rounds; r++) {
    for (const p of order(list, r)) {
      const specs = [await requestOf(p), await requestOf(p)];
      const requests = specs.map((r) => JSON.stringify(r));
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          EVAL_SCRIPT,
          resolve(p.dir, 'index.js'),
          JSON.stringify(vars),
          ...requests,
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, BENCH_WARM_URL: stack ? `${stack.upstream.info.url}/health` : '' },
        },
      );
      const { answers, ...sample } = JSON.parse(out.trim().split('\n').pop()!) as EvalSample & {
        answers: Array<{ status: number; text: string }>;
      };
      answers.forEach((a, i) => {
        const problem = answerProblem(specs[i]!, a.status, a.text);
        if (problem)
          throw new Error(
            `${p.name}, --eval request ${i + 1}: ${specs[i]!.method} ${specs[i]!.path} ${problem}`,
          );
      });
      samples.get(p.name)!.push(sample);
    }
  }
  const rows = list.map((p) => {
    const s = samples.get(p.name)!;
    const m = (k: 'evalMs' | 'firstMs' | 'secondMs') => round(median(s.map((x) => x[k])), 2);
    return {
      name: p.name,
      deployment: p.deployment,
      first: p.first,
      evalMs: m('evalMs'),
      firstMs: m('firstMs'),
      secondMs: m('secondMs'),
      evalPlusFirstMs: round(median(s.map((x) => x.evalMs + x.firstMs)), 2),
    };
  });
  console.log(
    `\nNode 24, fresh process per sample, ${firstLabel}, CPU ms (process.cpuUsage), medians of ${rounds} ` +
      `interleaved rounds (load average ${loadBefore} → ${load()})\n`,
  );
  console.log(
    formatTable(
      ['bundle', 'module eval', 'first request', 'second', 'eval + first'],
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
 * Resolves once the process is idle: `checks` checks in a row 20 ms apart in which no thread of it
 * is runnable and its CPU has not moved (CPU alone misleads on a loaded machine: a thread waiting
 * for a core uses none). Start-up done, or a request's waitUntil work (a real request's usage row
 * or ledger seal: the checks span its round trips to Postgres).
 */
async function quiet(pid: number, checks = 3) {
  for (let n = 0, last = -1; n < checks; ) {
    await new Promise((r) => setTimeout(r, 20));
    const now = processRunNs(pid);
    n = now === last && !anyThreadRunnable(pid) ? n + 1 : 0;
    last = now;
  }
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
  writeFileSync(join(dir, 'config.capnp'), bareWorkerdConfig(port, ['index.js'], vars));
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
    await quiet(child.pid!);
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
      const [firstSpec, secondSpec] = [await requestOf(p), await requestOf(p)];
      const w = await freshWorkerd(p.dir, false);
      try {
        const c0 = processRunNs(w.pid);
        const t0 = performance.now();
        await sendFirst(w.url, firstSpec, `${p.name}, first request`);
        const t1 = performance.now();
        // A real request's waitUntil work is its own: counted before the second request.
        if (p.first === 'real') await quiet(w.pid);
        const c1 = processRunNs(w.pid);
        await sendFirst(w.url, secondSpec, `${p.name}, second request`);
        if (p.first === 'real') await quiet(w.pid);
        const c2 = processRunNs(w.pid);
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
  const floorFirst = samples.has(FLOOR) ? m(FLOOR, 'firstCpu') : undefined;
  const rows = participants.map((p) => ({
    name: p.name,
    deployment: p.deployment,
    first: p.first,
    startCpuMs: round(m(p.name, 'startCpu'), 2),
    firstCpuMs: round(m(p.name, 'firstCpu'), 2),
    oursFirstCpuMs: round(m(p.name, 'firstCpu') - emptyFirst, 2),
    oursOverIoFloorFirstCpuMs: overFloor(p, m(p.name, 'firstCpu'), floorFirst),
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
      `empty Worker's; start = spawn to idle (compile and module evaluation included)` +
      (floorFirst === undefined ? '' : `; "over the I/O floor" = a real first − the I/O floor Worker's`) +
      '\n',
  );
  console.log(
    formatTable(
      [
        'bundle',
        'start CPU',
        'first CPU',
        'ours, first',
        ...(floorFirst === undefined ? [] : ['over the I/O floor, first']),
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
        ...(floorFirst === undefined ? [] : [r.oursOverIoFloorFirstCpuMs?.toFixed(2) ?? '']),
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
 * collections ran during start-up, during the first request (`--first`) and during the second (V8's
 * trace, read off workerd's unbuffered stdout).
 */
async function gcProbe(p: Participant, padKb: number) {
  const bundleDir = p.dir;
  const [firstSpec, secondSpec] = [await requestOf(p), await requestOf(p)];
  const dir = mkdtempSync(join(tmpdir(), 'mas-young-'));
  const port = await freePort();
  copyFileSync(join(bundleDir, 'index.js'), join(dir, 'index.js'));
  writeFileSync(join(dir, 'pad.js'), garbagePad(padKb));
  writeFileSync(join(dir, 'main.js'), "import './pad.js';\nexport { default } from './index.js';\n");
  writeFileSync(
    join(dir, 'config.capnp'),
    bareWorkerdConfig(port, ['main.js', 'pad.js', 'index.js'], vars, ['--trace-gc', ...youngFlags]),
  );
  const child = spawnTracedWorkerd(join(dir, 'config.capnp'));
  let out = '';
  let stderr = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4000)));
  const collections = () =>
    (out.match(/: (Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-Sweep)\b/g) ?? []).length;
  // Settled: three checks 20 ms apart without a new trace line and without a runnable thread
  // (five after a real request: its waitUntil work waits on Postgres between runs).
  const settle = async (checks = 3) => {
    for (let quiet = 0, last = -1; quiet < checks; ) {
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
    const origin = `http://127.0.0.1:${port}`;
    const checks = p.first === 'real' ? 5 : 3;
    await sendFirst(origin, firstSpec, `${p.name}, first request`);
    // V8 prints a collection's line as it ends: those before the answer was read, not its
    // waitUntil work (a usage row, the ledger's seal) after it.
    const byAnswer = collections() - start;
    await settle(checks);
    const firstGcs = collections() - start;
    await sendFirst(origin, secondSpec, `${p.name}, second request`);
    await settle(checks);
    return { start, first: firstGcs, byAnswer, second: collections() - start - firstGcs };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `--young-v8=--flag,--flag=value`: more V8 flags for --young's isolates, e.g.
 * `--min-semi-space-size=8` (an 8 MiB young generation: a first request that pays a scavenge at
 * the default size still shows how much it allocates, as the difference of its two pads from the
 * empty Worker's) or `--no-scavenge-task` (no scavenge posted as a task at 80 % of new space:
 * scavenges only when it is full).
 */
const youngFlags = args['young-v8'] ? args['young-v8'].split(',') : [];

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
    const now = await gcProbe(p, 0);
    const toStart = await smallestPad(async (kb) => (await gcProbe(p, kb)).start > 0, 0, max);
    const toFirst =
      now.first > 0 || now.start > 0
        ? undefined
        : await smallestPad(async (kb) => (await gcProbe(p, kb)).first > 0, 0, (toStart ?? max) - 8);
    rows.push({
      name: p.name,
      deployment: p.deployment,
      first: p.first,
      atStart: now.start,
      onFirst: now.first,
      onFirstByAnswer: now.byAnswer,
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
        'on 1st request',
        'of them by its answer',
        'on 2nd',
        'pad → 1st request KiB',
        'pad → start-up KiB',
        'first request KiB',
      ],
      rows.map((r) => [
        String(r.name),
        String(r.atStart),
        String(r.onFirst),
        String(r.onFirstByAnswer),
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
      const spec = await requestOf(p);
      const w = await freshWorkerd(p.dir, true);
      try {
        const devtools = await inspector(`ws://127.0.0.1:${w.inspectorPort}/main`);
        await devtools.send('Profiler.enable');
        await devtools.send('Profiler.setSamplingInterval', { interval });
        await devtools.send('Profiler.start');
        const t0 = performance.now();
        await sendFirst(w.url, spec, `${target}, first request`);
        wall.push(performance.now() - t0);
        // A real request's waitUntil work (its usage row, the ledger's seal) is part of it; the
        // profiler's sampling thread keeps workerd busy, so `quiet` cannot tell it ended.
        if (p.first === 'real') await new Promise((r) => setTimeout(r, 300));
        const { profile } = await devtools.send<{ profile: CpuProfile }>('Profiler.stop');
        devtools.close();
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
      `\nbare workerd, ${p.first === 'real' ? 'real first request' : 'first GET /health'} of ${target}: ${n} fresh isolates, ${interval} µs sampling ` +
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
