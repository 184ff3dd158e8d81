/**
 * `npm run bench:instructions -- --a <bundle dir> [--b <bundle dir>]`: instructions per request
 * on bare workerd, counted by valgrind's callgrind, as a judge of per-request work that the load
 * of a shared machine does not move (CPU ms per request here cannot resolve 10-50 µs). Each side
 * (the passthrough Worker, ours from A's `all` bundle, ours from B's) is the bench's bare workerd
 * (bench/lib/runtimes.ts' config, no extra workerd or V8 flag, JIT on) under
 * `valgrind --tool=callgrind`, on the bench's stack and fake upstream; the load (this process,
 * native, node:http with kept-alive connections) sends exactly N requests at concurrency c per
 * window, after a warm-up, with the counters zeroed before and dumped after the window (every
 * thread of workerd counted). Printed per side and c: Ir per request (mean, min-max over the
 * repeats and their spread), the same without the garbage collector (whose collections land in
 * windows in lumps: the main thread's collections and all other threads, V8's GC and compile
 * workers, are left out) and those shares, with ours / passthrough and B / A.
 *
 * What it does not measure: time. Instructions are not cycles (cache misses, branch mispredictions
 * and memory stalls are not in them), the kernel's work (syscalls, the loopback TCP stack: valgrind
 * counts user space only, and on this machine that is about half of workerd's CPU per request) is
 * not in them, and valgrind serialises workerd's threads, so background work is counted but not
 * overlapped. Under valgrind a request takes ~50× its native wall time, so what ours does by the
 * clock recurs per request more often than natively: the shared rate-limit verdict (fresh for 1 s)
 * goes back to Redis every ~1 s, and the batch windows of usage rows and rate-limit hits (250 ms)
 * would hold fewer requests; --flush-ms (default 1 h) stretches those two windows so no timed
 * flush lands in a window (usage rows then are not written during the run, their write is not
 * counted; rate-limit hits go to Redis by count). Use it to compare two builds of the same code
 * path (A/B) and to see what a per-request change saves in work, not to state CPU ms.
 *   node bench/instructions.ts --a DIR [--b DIR] [--endpoint chat|embed|stream] [--concurrency 1,8]
 *     [--requests 400] [--repeats 3] [--warmup 1500] [--floor on|off] [--pull-stage off|on]
 *     [--flush-ms 3600000]
 *     [--out bench/results] [--label name] [--dumps DIR]
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type CallgrindWorkerd, type Counts, startCallgrindWorkerd } from './lib/callgrind.ts';
import { giveUpAfter } from './lib/children.ts';
import type { RequestSpec } from './lib/loadgen.ts';
import { profileEndpoint, profileRequest } from './lib/profile-requests.ts';
import { formatTable, machineInfo, round } from './lib/report.ts';
import { setupBench } from './lib/setup.ts';
import { endWatch, OPENAI_STREAM_END } from './lib/stream-client.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    endpoint: { type: 'string', default: 'chat' },
    concurrency: { type: 'string', default: '1,8' },
    requests: { type: 'string', default: '400' },
    repeats: { type: 'string', default: '3' },
    /** Requests at c=8 on each side before any window: V8's tiers settle (JIT work is in no window). */
    warmup: { type: 'string', default: '1500' },
    floor: { type: 'string', default: 'on' },
    /** Also the passthrough Worker with an empty JavaScript pull stage on its streams (`pull`). */
    'pull-stage': { type: 'string', default: 'off' },
    'flush-ms': { type: 'string', default: '3600000' },
    /** Wait after a window's last response before the dump (work a response leaves behind). */
    'settle-ms': { type: 'string', default: '1000' },
    out: { type: 'string', default: 'bench/results' },
    label: { type: 'string', default: 'instructions' },
    /** Keep each window's callgrind dump here (`<pid>-<n>.callgrind`, for callgrind_annotate). */
    dumps: { type: 'string' },
    'max-seconds': { type: 'string', default: '7200' },
  },
});
if (!args.a) throw new Error('--a: an `all` bundle dir (with index.js); --b is optional');
const endpoint = profileEndpoint(args.endpoint);
giveUpAfter('instructions', Number(args['max-seconds']));
const log = (line: string) => console.log(`[instructions] ${line}`);
const requests = Number(args.requests);
const settleMs = Number(args['settle-ms']);

/**
 * `n` requests, `concurrency` at a time, over the agent's kept-alive connections; throws on a
 * non-2xx and, for a stream, on one that never sent its end marker: a stream broken mid-way still
 * answers 200 (ours ends it with `event: error`), and its count is not the cost of forwarding one.
 * The rule is the bench's stream cells' (stream-client.ts).
 */
async function fixedLoad(spec: RequestSpec, agent: Agent, n: number, concurrency: number): Promise<void> {
  let left = n;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(spec.url, { method: spec.method, headers: spec.headers, agent }, (res) => {
        const end = endpoint === 'stream' ? endWatch(spec.streamEnd ?? OPENAI_STREAM_END) : undefined;
        if (end) res.on('data', (chunk: Buffer) => end.feed(chunk));
        else res.resume();
        res.on('end', () => {
          if (res.statusCode! < 200 || res.statusCode! >= 300)
            return reject(new Error(`${spec.url}: ${res.statusCode}`));
          if (end && !end.ended)
            return reject(new Error(`${spec.url}: the stream ended without its end marker`));
          resolve();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(spec.body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await one();
    }),
  );
}

/** The deploy bundle's module files (index.js first), as runtimes.ts' workerd-raw serves them. */
const bundleFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.(m?js|yaml)$/.test(f))
    .sort((x, y) => Number(y === 'index.js') - Number(x === 'index.js'))
    .map((f) => ({ from: join(dir, f), name: f }));

const env = await setupBench({
  runtime: 'workerd-raw',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir: args.a,
  redis: true,
  logLevel: 'warn',
  log,
});
// The stack's own (native) function server is not measured: the sides below run under valgrind.
await env.fn.stop();
const flushMs = args['flush-ms']!;
const oursVars = { ...env.vars, USAGE_FLUSH_MS: flushMs, RATE_LIMIT_FLUSH_MS: flushMs };
const sideSpecs: Array<{
  name: string;
  files: Array<{ from: string; name: string }>;
  vars: Record<string, string>;
}> = [];
if (args.floor === 'on')
  sideSpecs.push({
    name: 'passthrough',
    files: [{ from: join(import.meta.dirname, 'lib', 'peers', 'passthrough-worker.js'), name: 'worker.js' }],
    vars: { UPSTREAM: env.upstream.info.url },
  });
if (args['pull-stage'] === 'on')
  sideSpecs.push({
    name: 'pull',
    files: [{ from: join(import.meta.dirname, 'lib', 'peers', 'pull-stage-worker.js'), name: 'worker.js' }],
    vars: { UPSTREAM: env.upstream.info.url },
  });
sideSpecs.push({ name: 'a', files: bundleFiles(args.a), vars: oursVars });
if (args.b) sideSpecs.push({ name: 'b', files: bundleFiles(args.b), vars: oursVars });

const sides: Array<{ name: string; server: CallgrindWorkerd }> = [];
const t0 = performance.now();
try {
  for (const s of sideSpecs) {
    const t = performance.now();
    if (args.dumps) mkdirSync(args.dumps, { recursive: true });
    const server = await startCallgrindWorkerd(
      s.files,
      s.vars,
      args.dumps ? { keepDumpsIn: args.dumps } : {},
    );
    sides.push({ name: s.name, server });
    log(
      `${s.name} under callgrind: ${server.url}, pid ${server.pid} (${Math.round(performance.now() - t)} ms)`,
    );
  }
  const spec = (s: (typeof sides)[number]) => profileRequest(endpoint, s.server.url);
  for (const s of sides) {
    const t = performance.now();
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    await fixedLoad(spec(s), agent, Number(args.warmup), 8);
    agent.destroy();
    log(`${s.name}: warm-up of ${args.warmup} requests (${Math.round(performance.now() - t)} ms)`);
  }
  const cells: Array<Record<string, unknown>> = [];
  const rows: string[][] = [];
  for (const concurrency of args.concurrency!.split(',').map(Number)) {
    const windows = new Map<string, Counts[]>(sides.map((s) => [s.name, []]));
    const agents = new Map(
      sides.map((s) => [s.name, new Agent({ keepAlive: true, maxSockets: concurrency })]),
    );
    // Opens this concurrency's connections before the first window (their set-up is in none).
    for (const s of sides) await fixedLoad(spec(s), agents.get(s.name)!, concurrency * 4, concurrency);
    for (let r = 0; r < Number(args.repeats); r++) {
      for (const s of r % 2 ? [...sides].reverse() : sides) {
        const counts = await s.server.window(
          () => fixedLoad(spec(s), agents.get(s.name)!, requests, concurrency),
          settleMs,
        );
        windows.get(s.name)!.push(counts);
        log(
          `c=${concurrency} ${s.name} #${r + 1}: ${Math.round(counts.ir / requests)} Ir/req, without GC ${Math.round(
            (counts.ir - counts.gcIr - counts.otherThreadsIr) / requests,
          )} (main-thread GC entered ${counts.gcEntries}×, other threads ${Math.round(
            counts.otherThreadsIr / requests,
          )}) (load ${loadavg()[0]!.toFixed(2)})`,
        );
      }
    }
    for (const a of agents.values()) a.destroy();
    const summary = (name: string) => {
      const ws = windows.get(name)!;
      const per = (f: (c: Counts) => number) => {
        const v = ws.map((w) => f(w) / requests);
        const mean = v.reduce((x, y) => x + y, 0) / v.length;
        return {
          mean,
          min: Math.min(...v),
          max: Math.max(...v),
          spread: (Math.max(...v) - Math.min(...v)) / mean,
        };
      };
      return {
        irPerRequest: per((c) => c.ir),
        /** Without the main thread's collections and without the other threads (V8's GC and compile workers). */
        irPerRequestWithoutGc: per((c) => c.ir - c.gcIr - c.otherThreadsIr),
        gcIrPerRequest: per((c) => c.gcIr),
        otherThreadsIrPerRequest: per((c) => c.otherThreadsIr),
        gcEntries: ws.map((w) => w.gcEntries),
        windows: ws,
      };
    };
    const results = Object.fromEntries(sides.map((s) => [s.name, summary(s.name)]));
    const ratio = (x: string, y: string, k: 'irPerRequest' | 'irPerRequestWithoutGc') =>
      results[x] && results[y] ? results[x][k].mean / results[y][k].mean : undefined;
    const loadAverage = loadavg();
    cells.push({
      endpoint,
      concurrency,
      requestsPerWindow: requests,
      loadAverage,
      sides: results,
      ratios: {
        aOverPassthrough: ratio('a', 'passthrough', 'irPerRequest'),
        aOverPassthroughWithoutGc: ratio('a', 'passthrough', 'irPerRequestWithoutGc'),
        bOverPassthrough: ratio('b', 'passthrough', 'irPerRequest'),
        bOverA: ratio('b', 'a', 'irPerRequest'),
        bOverAWithoutGc: ratio('b', 'a', 'irPerRequestWithoutGc'),
        pullOverPassthroughWithoutGc: ratio('pull', 'passthrough', 'irPerRequestWithoutGc'),
        aOverPullWithoutGc: ratio('a', 'pull', 'irPerRequestWithoutGc'),
        bOverPullWithoutGc: ratio('b', 'pull', 'irPerRequestWithoutGc'),
      },
    });
    const k = (n: number) => `${round(n / 1000, 1)}k`;
    for (const s of sides) {
      const x = results[s.name]!;
      const base = s.name === 'passthrough' ? undefined : results.passthrough;
      const overA = s.name === 'b' ? results.a : undefined;
      rows.push([
        String(concurrency),
        s.name,
        `${k(x.irPerRequest.mean)} (${k(x.irPerRequest.min)}-${k(x.irPerRequest.max)})`,
        `${round(x.irPerRequest.spread * 100, 2)} %`,
        `${k(x.irPerRequestWithoutGc.mean)} (${round(x.irPerRequestWithoutGc.spread * 100, 2)} %)`,
        `${k(x.gcIrPerRequest.mean)} (${x.gcEntries.join('/')})`,
        k(x.otherThreadsIrPerRequest.mean),
        base ? `${round(x.irPerRequest.mean / base.irPerRequest.mean, 3)}×` : '-',
        overA
          ? `${round(x.irPerRequest.mean / overA.irPerRequest.mean, 4)}× (without GC ${round(
              x.irPerRequestWithoutGc.mean / overA.irPerRequestWithoutGc.mean,
              4,
            )}×)`
          : '-',
      ]);
    }
    log(`c=${concurrency} done (load ${loadAverage.map((l) => l.toFixed(2)).join(' / ')})`);
  }
  console.log(
    `\n${endpoint} on bare workerd under callgrind, ${requests} requests a window × ${args.repeats}: A = ${args.a}${
      args.b ? `, B = ${args.b}` : ''
    }\n${formatTable(
      [
        'c',
        'side',
        'Ir/req mean (min-max)',
        'spread',
        'without GC (spread)',
        'GC Ir/req (entries per window)',
        'other threads Ir/req',
        '/ passthrough',
        'B / A',
      ],
      rows,
    )}`,
  );
  mkdirSync(args.out!, { recursive: true });
  const file = join(
    args.out!,
    `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}-${args.label}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        what: 'instructions (callgrind Ir, all threads, user space) per request on bare workerd under valgrind',
        args,
        machine: machineInfo(),
        wallSeconds: Math.round((performance.now() - t0) / 1000),
        cells,
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${file}`);
} finally {
  for (const s of sides.reverse()) await s.server.stop();
  await env.stop();
}
process.exit(0);
