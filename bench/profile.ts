/**
 * `npm run bench:profile`: where a request's CPU goes on Node, ours beside Portkey's gateway.
 * Starts the bench's stack and fake upstream, ours on the node runtime and Portkey, both under
 * `node --cpu-prof`, loads one endpoint at one concurrency (ours, Portkey, Portkey, ours), and
 * reads each profile over its own measured windows only: main-thread self time per category (our
 * modules by folder, npm packages, undici, web streams, Node's HTTP/net, GC, V8/native) in µs per
 * request, beside the CPU of the whole process from /proc (the rest is other threads: GC helpers,
 * the compiler, libuv's pool). Also the start-up: process start to listening, per category.
 *   node bench/profile.ts [--endpoint chat|embed|stream] [--concurrency 8] [--seconds 6]
 *                         [--interval 200] [--keep] [--out bench/results]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { giveUpAfter, startChild } from './lib/children.ts';
import { breakdown, type ProfileBreakdown, readProfile } from './lib/cpuprofile.ts';
import { type RequestSpec, runAutocannon } from './lib/loadgen.ts';
import { portkeyHeaders } from './lib/peer-process.ts';
import { readNodeMemory } from './lib/peers.ts';
import { PROFILE_OPTIONS, profileEndpoint, profileRequest } from './lib/profile-requests.ts';
import { formatTable, round } from './lib/report.ts';
import { setupBench } from './lib/setup.ts';
import { runStreams } from './lib/stream-client.ts';

const { values: args } = parseArgs({
  options: { ...PROFILE_OPTIONS, keep: { type: 'boolean', default: false } },
});
const endpoint = profileEndpoint(args.endpoint);
const concurrency = Number(args.concurrency);
const seconds = Number(args.seconds);
const log = (line: string) => console.log(`[profile] ${line}`);
giveUpAfter('profile', Number(args['max-seconds']));

const dir = mkdtempSync(join(tmpdir(), 'mas-cpuprof-'));
// Exits cleanly on SIGTERM where nothing else does (so the profile is written), counts outgoing calls.
const hooks = resolve('bench/lib/profile-hooks.mjs');
const profiled = (sub: string) => {
  mkdirSync(join(dir, sub), { recursive: true });
  return {
    NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(dir, sub)} --cpu-prof-interval=${args.interval} --import=${hooks}`,
    BENCH_PROFILE_DIR: join(dir, sub),
  };
};

// Both servers answer the memory question after the windows (bench/lib/memory-report.mjs).
process.env.BENCH_MEMORY_DIR = dir;

const spawnedAt = process.hrtime.bigint();
const env = await setupBench({
  runtime: 'node',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir: 'bench/.dist/all',
  redis: true,
  logLevel: 'warn',
  log,
  fnEnv: profiled('ours'),
});
const oursReadyAt = process.hrtime.bigint();
const portkeySpawnedAt = process.hrtime.bigint();
const portkey = await startChild<{ url: string; pid: number }>(
  'portkey',
  'bench/lib/peer-process.ts',
  ['portkey', env.upstream.info.url],
  { env: profiled('portkey') },
);
const portkeyReadyAt = process.hrtime.bigint();
const toUs = (t: bigint) => Number(t / 1000n);
/** `http <origin>` → what that origin is in the bench (the fake, the stack's Upstash bridge...). */
const nameOrigin = (key: string) => {
  const known: Array<[string | undefined, string]> = [
    [env.upstream.info.url, 'the fake upstream'],
    [env.vars.UPSTASH_REDIS_REST_URL, 'Upstash REST bridge (Redis)'],
    [env.mcp.info.url, 'the fake MCP server'],
  ];
  for (const [url, name] of known) if (url && key.includes(new URL(url).origin)) return `http → ${name}`;
  return key;
};

try {
  const upUrl = env.upstream.info.url;
  const specs: Record<'ours' | 'portkey', RequestSpec> = {
    ours: profileRequest(endpoint, env.fn.info.url),
    portkey: profileRequest(endpoint, portkey.info.url, portkeyHeaders(upUrl)),
  };
  const pids = { ours: env.fn.pid, portkey: portkey.info.pid };
  const run = (s: RequestSpec, measureMs: number, watch: Record<string, number>) =>
    (endpoint === 'stream' ? runStreams : runAutocannon)(s, { concurrency, warmupMs: 0, measureMs, watch });
  for (const who of ['ours', 'portkey'] as const) await run(specs[who], Number(args.warmup) * 1000, {});
  const windows: Record<'ours' | 'portkey', Array<[number, number]>> = { ours: [], portkey: [] };
  const requests = { ours: 0, portkey: 0 };
  const procCpuMs = { ours: 0, portkey: 0 };
  for (const who of ['ours', 'portkey', 'portkey', 'ours'] as const) {
    const t0 = process.hrtime.bigint();
    const w = await run(specs[who], (seconds * 1000) / 2, { [who]: pids[who] });
    windows[who].push([toUs(t0), toUs(process.hrtime.bigint())]);
    requests[who] += w.requests;
    procCpuMs[who] += w.cpuMs[who]!;
    log(
      `${who}: ${w.requests} requests, ${w.errors} errors, ${round(w.cpuMs[who]! / w.requests, 3)} cpu ms/req`,
    );
  }
  // What each holds once the load stops: heap before and after a full GC, timers still scheduled.
  const memory = {
    ours: await readNodeMemory(pids.ours, dir),
    portkey: await readNodeMemory(pids.portkey, dir),
  };
  await portkey.stop();
  await env.stop();

  const profileOf = (sub: string, pid: number) => {
    const file = readdirSync(join(dir, sub)).find((f) => f.includes(`.${pid}.`));
    if (!file) throw new Error(`no profile of ${sub} (pid ${pid}) in ${join(dir, sub)}`);
    return readProfile(join(dir, sub, file));
  };
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    endpoint,
    concurrency,
    intervalUs: Number(args.interval),
  };
  for (const who of ['ours', 'portkey'] as const) {
    const profile = profileOf(who, pids[who]);
    const calls = JSON.parse(readFileSync(join(dir, who, `requests-${pids[who]}.json`), 'utf8')) as Record<
      string,
      number
    >;
    const parts = windows[who].map(([a, b]) => breakdown(profile, a, b, 25));
    const merged = mergeBreakdowns(parts);
    const n = requests[who];
    // The sampler runs on wall time: on a loaded machine a descheduled thread keeps being sampled
    // in whatever frame it was, so samples give shares, and /proc gives the CPU they share out.
    const cpuUsPerRequest = (procCpuMs[who] * 1000) / n;
    const perReq = (us: number) => round((cpuUsPerRequest * us) / merged.busyUs, 1);
    // Outgoing calls over the whole run (warm-up and the other side's windows included: per
    // request of everything this server answered, counted by the same hook).
    const answered = Object.entries(calls).reduce(
      (a, [k, v]) => (k.startsWith('http ') && k.includes(upUrl) ? a + v : a),
      0,
    );
    const startup = breakdown(
      profile,
      Number.NEGATIVE_INFINITY,
      toUs(who === 'ours' ? oursReadyAt : portkeyReadyAt),
      15,
    );
    report[who] = {
      requests: n,
      memory: memory[who],
      processCpuUsPerRequest: round(cpuUsPerRequest, 1),
      /** Outgoing calls per call to the fake upstream, by origin (the upstream's own is 1). */
      callsPerUpstreamCall: Object.fromEntries(
        Object.entries(calls).map(([k, v]) => [nameOrigin(k), round(v / answered, 2)]),
      ),
      categories: merged.categories.map((c) => ({ category: c.category, usPerRequest: perReq(c.us) })),
      top: merged.top.map((t) => ({ ...t, usPerRequest: perReq(t.us) })),
      startup: {
        // From the parent's spawn (ours: the whole setup, whose last step starts it) to listening.
        wallMs: round(
          Number((who === 'ours' ? oursReadyAt - spawnedAt : portkeyReadyAt - portkeySpawnedAt) / 1_000_000n),
          0,
        ),
        busyMs: round(startup.busyUs / 1000, 1),
        categories: startup.categories.map((c) => ({ category: c.category, ms: round(c.us / 1000, 1) })),
      },
    };
    console.log(
      `\n${who}: ${endpoint} c=${concurrency}, ${n} requests; process CPU ${round(cpuUsPerRequest, 1)} µs/req` +
        ` (/proc, all threads), shared out below by the main thread's samples; outgoing calls per upstream call: ` +
        `${JSON.stringify(report[who] && (report[who] as { callsPerUpstreamCall: unknown }).callsPerUpstreamCall)}\n`,
    );
    console.log(
      formatTable(
        ['category (main thread self time)', 'cpu µs/req', '% of samples'],
        merged.categories
          .slice(0, 18)
          .map((c) => [c.category, perReq(c.us).toFixed(1), ((100 * c.us) / merged.busyUs).toFixed(1)]),
      ),
    );
    console.log(
      `\n${formatTable(
        ['top functions (self)', 'category', 'µs/req'],
        merged.top.slice(0, 15).map((t) => [t.fn.slice(0, 80), t.category, perReq(t.us).toFixed(1)]),
      )}`,
    );
    const m = memory[who];
    if (m)
      console.log(
        `\n${who} memory after the windows: RSS ${m.before.rss} MiB, heap used ${m.before.heapUsed} of ` +
          `${m.before.heapTotal} MiB; after a full GC ${m.after.heapUsed} of ${m.after.heapTotal} MiB, ` +
          `external ${m.after.external} MiB, RSS ${m.after.rss} MiB; timers left ${m.active?.Timeout ?? 0}`,
      );
    console.log(
      `\n${who} start-up to listening: main thread busy ${round(startup.busyUs / 1000, 1)} ms; ` +
        startup.categories
          .slice(0, 6)
          .map((c) => `${c.category} ${round(c.us / 1000, 1)}`)
          .join(', '),
    );
  }
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${new Date().toISOString().slice(0, 10)}-profile-node-${endpoint}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${file}${args.keep ? `; profiles in ${dir}` : ''}`);
} finally {
  await portkey.stop();
  await env.stop();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

function mergeBreakdowns(parts: ProfileBreakdown[]): ProfileBreakdown {
  const cats = new Map<string, number>();
  const fns = new Map<string, { category: string; us: number }>();
  let busy = 0;
  let idle = 0;
  let native = 0;
  for (const p of parts) {
    busy += p.busyUs;
    idle += p.idleUs;
    native += p.nativeUs;
    for (const c of p.categories) cats.set(c.category, (cats.get(c.category) ?? 0) + c.us);
    for (const t of p.top) {
      const e = fns.get(t.fn) ?? { category: t.category, us: 0 };
      e.us += t.us;
      fns.set(t.fn, e);
    }
  }
  return {
    busyUs: busy,
    idleUs: idle,
    nativeUs: native,
    categories: [...cats.entries()].map(([category, us]) => ({ category, us })).sort((a, b) => b.us - a.us),
    top: [...fns.entries()].map(([fn, v]) => ({ fn, ...v })).sort((a, b) => b.us - a.us),
  };
}
