/**
 * `npm run bench`: the gateway's overhead over a fast fake upstream, per endpoint and concurrency,
 * on one runtime; bundle sizes and isolate start per deployment. See bench/README.md.
 *   node bench/run.ts [--runtime workerd-raw|workerd|workerd-dev|node|deno] [--also node]
 *                     [--peers on|off] [--duration 4] [--quick]
 *                     [--only health,chat,chat-budget,stream,stream-budget,messages,messages-stream,responses,responses-native,responses-stream,embed,embed-budget,audit,mcp] [--concurrency 1,8,32]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../local/ports.ts';
import { COMPILE_CACHE_DIR } from '../node/serve.mjs';
import { type Child, giveUpAfter, pinnedNode, serveCommand, startChild } from './lib/children.ts';
import { coldStartMs } from './lib/cold-start.ts';
import { findDescendants, processMemoryMiB } from './lib/cpu.ts';
import { BENCH_KEYS, bearer } from './lib/keys.ts';
import { type RequestSpec, runAutocannon, type WindowOptions } from './lib/loadgen.ts';
import { portkeyCommand, portkeyHeaders } from './lib/peer-process.ts';
import {
  type ColdStartReport,
  type Comparison,
  coldStartTable,
  compareCell,
  comparisonTable,
  type MemoryReport,
  median,
  memoryTable,
  type Participant,
  PEER_ENDPOINTS,
  PEERS,
  type Peer,
  readNodeMemory,
} from './lib/peers.ts';
import {
  type CellReport,
  cellReport,
  compare,
  formatTable,
  machineInfo,
  type OverheadReport,
  overheadTable,
  round,
} from './lib/report.ts';
import { emptyWorkerBundle, isolateSample, RUNTIMES, type Runtime, unavailable } from './lib/runtimes.ts';
import { buildBundles, deploymentsOf, setupBench } from './lib/setup.ts';
import { mergeWindows, Samples, type WindowResult } from './lib/stats.ts';
import { runStreams } from './lib/stream-client.ts';
import { evaluateTargets } from './lib/targets.ts';

const ENDPOINTS = [
  'health',
  'chat',
  'chat-budget',
  'stream',
  'stream-budget',
  'messages',
  'messages-stream',
  'responses',
  'responses-native',
  'responses-stream',
  'embed',
  'embed-budget',
  'audit',
  'mcp',
] as const;
type Endpoint = (typeof ENDPOINTS)[number];

const { values: args } = parseArgs({
  options: {
    runtime: { type: 'string', default: 'workerd-raw' },
    also: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    chunks: { type: 'string', default: '8' },
    delay: { type: 'string', default: '0' },
    redis: { type: 'string', default: 'on' },
    'log-level': { type: 'string', default: 'warn' },
    'no-bundles': { type: 'boolean', default: false },
    'no-start': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
    'max-seconds': { type: 'string', default: '1500' },
    peers: { type: 'string' },
  },
});

const quick = args.quick;
const runtime = args.runtime as Runtime;
if (!RUNTIMES.includes(runtime)) throw new Error(`--runtime must be one of ${RUNTIMES.join(', ')}`);
const rounds = Number(args.rounds ?? (quick ? 1 : 2));
/** Measured seconds per target per cell, split over the rounds. */
const duration = Number(args.duration ?? (quick ? 0.7 : 4));
const warmupMs = Number(args.warmup ?? (quick ? 0.3 : 0.5)) * 1000;
const concurrencies = (args.concurrency ?? (quick ? '8' : '1,8,32')).split(',').map(Number);
const endpoints = (args.only ?? ENDPOINTS.join(',')).split(',') as Endpoint[];
for (const e of endpoints) if (!ENDPOINTS.includes(e)) throw new Error(`--only: unknown endpoint ${e}`);
const withBundles = !quick && !args['no-bundles'];
const withStart = !quick && !args['no-start'];
/**
 * The peers beside the gateway in the chat, stream and embed cells (bench/lib/peers.ts): the two
 * floors, Portkey, and ours on a second runtime (`--also`: Node when the runtime under test is a
 * workerd one, bare workerd when it is Node), so both fair pairs come from one run.
 * --peers off skips them all (off in --quick).
 */
const peersArg = args.peers ?? (quick ? 'off' : 'on');
const peersOn = peersArg !== 'off' && endpoints.some((e) => PEER_ENDPOINTS.includes(e));
/** `--peers on`: all of them; `--peers passthrough-workerd,io-floor-workerd`: those only. */
const peersRun: readonly Peer[] =
  peersArg === 'on' || peersArg === 'off' ? PEERS : (peersArg.split(',') as Peer[]);
for (const p of peersRun)
  if (!PEERS.includes(p)) throw new Error(`--peers: unknown peer ${p} (${PEERS.join(', ')})`);
const alsoRuntimes = (
  peersOn ? (args.also ?? (runtime.startsWith('node') ? 'workerd-raw' : 'node,node-bundle')) : ''
)
  .split(',')
  .filter((r) => r && r !== 'none' && r !== runtime) as Runtime[];
for (const r of alsoRuntimes) if (!RUNTIMES.includes(r)) throw new Error(`--also: unknown runtime ${r}`);
const upstreamOptions = { chunks: Number(args.chunks), delayMs: Number(args.delay), dim: 1536 };
const log = (line: string) => console.log(`[bench] ${line}`);
const started = performance.now();
// The machine as the run starts (its load average is the one to report beside the figures).
const machineAtStart = machineInfo();
const date = new Date().toISOString().slice(0, 10);

// Every run is bounded: whatever hangs, the run ends (children are killed on exit).
giveUpAfter('bench', Number(args['max-seconds']));

// Where the Node servers (ours, the Node floor, Portkey: children inherit it) write their memory
// when asked after the cells (bench/lib/memory-report.mjs).
const memoryDir = mkdtempSync(join(tmpdir(), 'mas-bench-memory-'));
process.env.BENCH_MEMORY_DIR = memoryDir;
process.on('exit', () => rmSync(memoryDir, { recursive: true, force: true }));

const skip = unavailable(runtime);
if (skip) {
  console.log(`skipped: ${skip}`);
  process.exit(0);
}

// Bundles: `all` is what the workerd runtime serves; the rest are measured for size and start.
const bundleRoot = 'bench/.dist';
const deployments =
  withBundles || withStart
    ? deploymentsOf()
    : [runtime, ...alsoRuntimes].some((r) => ['workerd', 'workerd-raw', 'node-bundle'].includes(r)) || peersOn
      ? ['all']
      : [];
let bundles: Awaited<ReturnType<typeof buildBundles>> = [];
if (deployments.length) {
  const t0 = performance.now();
  bundles = await buildBundles(deployments, bundleRoot);
  log(
    `built ${deployments.join(', ')} with wrangler deploy --dry-run in ${Math.round(performance.now() - t0)} ms`,
  );
}

const env = await setupBench({
  runtime,
  upstream: upstreamOptions,
  bundleDir: join(bundleRoot, 'all'),
  redis: args.redis !== 'off',
  logLevel: args['log-level']!,
  log,
});

let exitCode = 0;
const peerChildren: Array<Child<{ url: string; pid?: number }>> = [];
const skipped: Partial<Record<Endpoint, string>> = {};
try {
  const peerUrl: Partial<Record<Peer, string>> = {};
  const watch: Record<string, number | number[]> = { ...env.watch };
  /** The processes that serve (workerd under its wrapper, else the process itself), for RSS. */
  const servers: Record<string, number[]> = {
    [`ours@${runtime}`]: env.watch.workerd.length ? env.watch.workerd : [env.fn.pid],
  };
  const alsoUrl: Partial<Record<Runtime, string>> = {};
  if (peersOn) {
    for (const peer of peersRun) {
      // The function's vars: the I/O floor reaches the same Redis and Postgres as ours.
      const child = await startChild<{ url: string; pid: number }>(
        peer,
        'bench/lib/peer-process.ts',
        [peer, env.upstream.info.url],
        { env: { BENCH_VARS: JSON.stringify(env.vars) } },
      );
      peerChildren.push(child);
      peerUrl[peer] = child.info.url;
      watch[peer] = child.info.pid;
      servers[peer] = [child.info.pid];
      log(`${peer}: ${child.info.url}`);
    }
    for (const r of alsoRuntimes) {
      const [script, scriptArgs] = serveCommand(r, join(bundleRoot, 'all'));
      const child = await startChild<{ url: string }>(`fn-${r}`, script, scriptArgs, {
        env: { BENCH_VARS: JSON.stringify(env.vars), WRANGLER_SEND_METRICS: 'false' },
      });
      peerChildren.push(child);
      alsoUrl[r] = child.info.url;
      watch[`ours@${r}`] = child.pid;
      const workerd = findDescendants(child.pid, /^workerd/);
      servers[`ours@${r}`] = workerd.length ? workerd : [child.pid];
      log(`ours on ${r}: ${child.info.url}`);
    }
  }
  const fnUrl = env.fn.info.url;
  const upUrl = env.upstream.info.url;
  const json = { 'content-type': 'application/json' };
  const chatBody = JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'Say hello.' }] });
  const streamBody = JSON.stringify({
    model: 'fast',
    stream: true,
    messages: [{ role: 'user', content: 'Say hello.' }],
  });
  // The Messages API (functions/messages) on the same role: translated to Chat Completions for the
  // OpenAI-compatible fake and back, so its floor is the same chat call straight to the fake.
  const messagesBody = JSON.stringify({
    model: 'fast',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Say hello.' }],
  });
  const messagesStreamBody = JSON.stringify({ ...JSON.parse(messagesBody), stream: true });
  const anthropicClient = { ...json, 'x-api-key': BENCH_KEYS.agent.key, 'anthropic-version': '2023-06-01' };
  // The Responses API: on the `fast` role (an OpenAI-compatible model: translated to Chat
  // Completions and back, floor the same chat call to the fake), and on gpt-4.1-nano, an `openai`
  // model sent natively to the fake's /responses (floor: that same call). store:false keeps
  // Postgres out of these cells (the cell measures the translation and the router).
  const responsesBody = JSON.stringify({ model: 'fast', input: 'Say hello.', store: false });
  const responsesNativeBody = JSON.stringify({ model: 'gpt-4.1-nano', input: 'Say hello.', store: false });
  const responsesStreamBody = JSON.stringify({
    model: 'fast',
    input: 'Say hello.',
    store: false,
    stream: true,
  });
  const embedBody = JSON.stringify({ model: 'embedding', input: 'The quick brown fox.' });
  const auditBody = JSON.stringify({
    agent_id: BENCH_KEYS.agent.id,
    agent_name: 'Bench',
    action_type: 'bench.lookup',
    category: 'read',
    inputs: { query: 'status of order 42' },
  });
  const agent = { ...json, authorization: bearer('agent') };
  // The same chat call by a key whose budgets (USD a day, tokens and requests a minute) are set
  // far above what the bench spends: every request reserves in Redis and settles after.
  const budgeted = { ...json, authorization: bearer('budgeted') };
  if (endpoints.some((e) => e.endsWith('-budget'))) {
    const res = await fetch(`${fnUrl}/v1/admin/budgets/principal/${BENCH_KEYS.budgeted.id}`, {
      method: 'PUT',
      headers: { ...json, authorization: bearer('admin') },
      body: JSON.stringify({ daily_usd: 1e9, monthly_usd: 1e9, tpm: 1e12, rpm: 1e12 }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`setting the bench budget answered ${res.status}: ${await res.text()}`);
  }
  // A tools/call of a read tool (not gated, audited), stateless: no initialize needed.
  const mcpCall = (name: string) =>
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name, arguments: { path: '/bench/readme.txt' } },
    });
  const mcpHeaders = { ...agent, accept: 'application/json, text/event-stream' };
  const specs: Record<Endpoint, { through: RequestSpec; direct?: RequestSpec }> = {
    health: {
      through: { method: 'GET', url: `${fnUrl}/health` },
      direct: { method: 'GET', url: `${upUrl}/health` },
    },
    chat: {
      through: { method: 'POST', url: `${fnUrl}/v1/chat/completions`, headers: agent, body: chatBody },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: agent, body: chatBody },
    },
    'chat-budget': {
      through: { method: 'POST', url: `${fnUrl}/v1/chat/completions`, headers: budgeted, body: chatBody },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: budgeted, body: chatBody },
    },
    stream: {
      through: { method: 'POST', url: `${fnUrl}/v1/chat/completions`, headers: agent, body: streamBody },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: agent, body: streamBody },
    },
    // A budgeted stream reserves its worst case before the call and settles from the stream's usage.
    'stream-budget': {
      through: { method: 'POST', url: `${fnUrl}/v1/chat/completions`, headers: budgeted, body: streamBody },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: budgeted, body: streamBody },
    },
    messages: {
      through: { method: 'POST', url: `${fnUrl}/v1/messages`, headers: anthropicClient, body: messagesBody },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: agent, body: chatBody },
    },
    'messages-stream': {
      through: {
        method: 'POST',
        url: `${fnUrl}/v1/messages`,
        headers: anthropicClient,
        body: messagesStreamBody,
        streamEnd: '"message_stop"',
      },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: agent, body: streamBody },
    },
    responses: {
      through: { method: 'POST', url: `${fnUrl}/v1/responses`, headers: agent, body: responsesBody },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: agent, body: chatBody },
    },
    'responses-native': {
      through: { method: 'POST', url: `${fnUrl}/v1/responses`, headers: agent, body: responsesNativeBody },
      direct: { method: 'POST', url: `${upUrl}/v1/responses`, headers: agent, body: responsesNativeBody },
    },
    'responses-stream': {
      through: {
        method: 'POST',
        url: `${fnUrl}/v1/responses`,
        headers: agent,
        body: responsesStreamBody,
        streamEnd: '"response.completed"',
      },
      direct: { method: 'POST', url: `${upUrl}/v1/chat/completions`, headers: agent, body: streamBody },
    },
    embed: {
      through: { method: 'POST', url: `${fnUrl}/v1/embeddings`, headers: agent, body: embedBody },
      direct: { method: 'POST', url: `${upUrl}/v1/embeddings`, headers: agent, body: embedBody },
    },
    'embed-budget': {
      through: { method: 'POST', url: `${fnUrl}/v1/embeddings`, headers: budgeted, body: embedBody },
      direct: { method: 'POST', url: `${upUrl}/v1/embeddings`, headers: budgeted, body: embedBody },
    },
    audit: { through: { method: 'POST', url: `${fnUrl}/v1/audit/actions`, headers: agent, body: auditBody } },
    mcp: {
      through: {
        method: 'POST',
        url: `${fnUrl}/mcp`,
        headers: mcpHeaders,
        body: mcpCall('bench__read_file'),
      },
      direct: {
        method: 'POST',
        url: `${env.mcp.info.url}/mcp`,
        headers: mcpHeaders,
        body: mcpCall('read_file'),
      },
    },
  };

  /** The same request to ours on another runtime (`--also`), to a floor or to Portkey. */
  const oursOn = (r: Runtime, s: RequestSpec): RequestSpec => ({
    ...s,
    url: s.url.replace(fnUrl, alsoUrl[r]!),
  });
  const atPeer = (peer: Peer, s: RequestSpec): RequestSpec => ({
    ...s,
    url: s.url.replace(upUrl, peerUrl[peer]!),
    // Portkey (on Node and on workerd) reaches the fake as a custom host of its `openai` provider.
    ...(peer.startsWith('portkey') ? { headers: { ...s.headers, ...portkeyHeaders(upUrl) } } : {}),
  });

  // One request of each kind first: a misconfiguration should fail loudly, not as 100% errors.
  // An endpoint of ours that fails is left out of the run (named in `skipped`, exit code 1), so
  // one broken route does not cost the other cells; a failing peer or floor ends the run, also when
  // its 200 does not hold the fake's answer (a gateway's error can come as a 200 or an SSE event).
  const checks: Array<[string, Endpoint | undefined, RequestSpec, string?]> = endpoints.map((e) => [
    e,
    e,
    specs[e].through,
  ]);
  const fakeAnswer: Record<string, string> = {
    chat: 'Hello from the bench upstream.',
    stream: 'data: [DONE]',
    embed: '"embedding":[',
  };
  for (const e of endpoints.filter((x) => peersOn && PEER_ENDPOINTS.includes(x))) {
    for (const r of alsoRuntimes) checks.push([`${e} ours@${r}`, e, oursOn(r, specs[e].through)]);
    for (const p of peersRun)
      checks.push([`${e} ${p}`, undefined, atPeer(p, specs[e].direct!), fakeAnswer[e]]);
  }
  for (const [name, ours, s, expected] of checks) {
    const res = await fetch(s.url, {
      method: s.method,
      headers: s.headers ?? {},
      ...(s.body ? { body: s.body } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let problem = res.ok ? undefined : `${s.method} ${s.url} answered ${res.status}: ${text.slice(0, 300)}`;
    // A JSON-RPC error or an error result is a 200 too: the mcp cell must measure a real call.
    if (name === 'mcp' && (!text.includes('"result"') || text.includes('"isError":true'))) {
      problem = `tools/call did not succeed: ${text.slice(0, 300)}`;
    }
    if (!problem && expected && !text.includes(expected)) {
      problem = `${s.method} ${s.url} answered without the fake's ${JSON.stringify(expected)}: ${text.slice(0, 300)}`;
    }
    if (!problem) continue;
    if (!ours) throw new Error(`${name}: ${problem}`);
    skipped[ours] ??= `${name}: ${problem}`;
    console.error(`[bench] SKIPPED ${ours}: ${name}: ${problem}`);
  }
  const measured = endpoints.filter((e) => !skipped[e]);

  // Isolate start per deployment: Miniflare with that bundle, then GET /health twice; five fresh
  // isolates each, the median kept (single samples on this 2-core machine jump by ~20 ms now and
  // then, in the Node-side proxy as much as in workerd). The empty Worker runs in the same rounds,
  // the deployments and it in alternating order (A B … B A), so the runtime's own first request
  // (bench:isolate-start's "empty Worker") stands beside ours' under the same load.
  const ISOLATE_SAMPLES = 5;
  const isolateStart: Array<{
    deployment: string;
    startMs: number;
    firstRequestMs: number;
    warmRequestMs: number;
    firstRequestSamplesMs: number[];
    oursMs?: number;
  }> = [];
  let isolateEmptyWorker: (typeof isolateStart)[number] | undefined;
  if (withStart) {
    const EMPTY = 'empty Worker';
    const emptyDir = emptyWorkerBundle();
    const names = [EMPTY, ...deployments];
    const samples = new Map(
      names.map((n) => [n, { start: [] as number[], first: [] as number[], warm: [] as number[] }]),
    );
    for (let i = 0; i < ISOLATE_SAMPLES; i++) {
      for (const name of i % 2 ? [...names].reverse() : names) {
        const sample = await isolateSample(name === EMPTY ? emptyDir : join(bundleRoot, name), name);
        const s = samples.get(name)!;
        s.start.push(sample.startMs);
        s.first.push(sample.firstMs);
        s.warm.push(sample.warmMs);
      }
    }
    const summary = (name: string) => {
      const s = samples.get(name)!;
      return {
        deployment: name,
        startMs: round(median(s.start), 1),
        firstRequestMs: round(median(s.first), 2),
        warmRequestMs: round(median(s.warm), 2),
        firstRequestSamplesMs: s.first.map((x) => round(x, 2)),
      };
    };
    isolateEmptyWorker = summary(EMPTY);
    for (const deployment of deployments) {
      const row = summary(deployment);
      isolateStart.push({ ...row, oursMs: round(row.firstRequestMs - isolateEmptyWorker.firstRequestMs, 2) });
    }
  }

  // The cells: for each endpoint and concurrency, direct, through and (chat, stream, embed) ours on
  // the other runtime, the floors and Portkey alternate: A B C …, then … C B A.
  const rows: OverheadReport[] = [];
  const participants: Participant[] = [];
  const comparisons: Comparison[] = [];
  for (const endpoint of measured) {
    for (const concurrency of concurrencies) {
      const spec = specs[endpoint];
      const withPeers = peersOn && PEER_ENDPOINTS.includes(endpoint);
      const others: Array<[string, Participant['kind'], RequestSpec]> = withPeers
        ? [
            ...alsoRuntimes.map((r): [string, Participant['kind'], RequestSpec] => [
              `ours@${r}`,
              'ours',
              oursOn(r, spec.through),
            ]),
            ...peersRun.map((p): [string, Participant['kind'], RequestSpec] => [
              p,
              p.startsWith('portkey') ? 'peer' : 'floor',
              atPeer(p, spec.direct!),
            ]),
          ]
        : [];
      const windows: Record<string, WindowResult[]> = { direct: [], through: [] };
      for (const [name] of others) windows[name] = [];
      const opts: WindowOptions = {
        concurrency,
        warmupMs,
        measureMs: (duration * 1000) / rounds,
        watch,
      };
      const streams = endpoint.includes('stream');
      const run = (s: RequestSpec) => (streams ? runStreams(s, opts) : runAutocannon(s, opts));
      const targets: Array<[string, RequestSpec | undefined]> = [
        ['direct', spec.direct],
        ['through', spec.through],
        ...others.map(([name, , s]): [string, RequestSpec] => [name, s]),
      ];
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? targets : [...targets].reverse();
        for (const [target, s] of order) if (s) windows[target]!.push(await run(s));
      }
      const through = cellReport(mergeWindows(windows.through!));
      const cellPeers: Participant[] = others.map(([name, kind]) => {
        const cell = cellReport(mergeWindows(windows[name]!));
        return { endpoint, concurrency, name, kind, cell, cpuMsPerRequest: cell.cpuMsPerRequest[name]! };
      });
      participants.push(...cellPeers);
      if (withPeers) {
        const ours = [
          { runtime, cell: through, cpu: through.cpuMsPerRequest.fn! },
          ...cellPeers
            .filter((p) => p.kind === 'ours')
            .map((p) => ({ runtime: p.name.slice('ours@'.length), cell: p.cell, cpu: p.cpuMsPerRequest })),
        ];
        for (const c of compareCell(endpoint, concurrency, ours, cellPeers)) {
          comparisons.push(c);
          log(
            `${endpoint} c=${concurrency} ours@${c.runtime}: cpu ${c.ours.cpu} ms/req` +
              (c.floor ? `; ${c.floor.name} ${c.floor.cpu} (ours/floor ${c.floor.ratio.cpu})` : '') +
              (c.ioFloor
                ? `; ${c.ioFloor.name} ${c.ioFloor.cpu} (ours/io floor ${c.ioFloor.ratio.cpu})`
                : '') +
              (c.portkey ? `; portkey ${c.portkey.cpu} (ours/portkey ${c.portkey.ratio.cpu})` : '') +
              (c.portkeyWorkerd
                ? `; portkey-workerd ${c.portkeyWorkerd.cpu} (ours/portkey-workerd ${c.portkeyWorkerd.ratio.cpu}, portkey-workerd/floor ${c.portkeyWorkerd.overFloor ?? '-'})`
                : ''),
          );
        }
        for (const p of cellPeers.filter((x) => x.cell.errors))
          log(`${endpoint} c=${concurrency} ${p.name}: errors ${p.cell.errors}`);
      }
      const direct: CellReport | undefined = spec.direct
        ? cellReport(mergeWindows(windows.direct!))
        : undefined;
      const row = compare(endpoint, concurrency, through, direct);
      rows.push(row);
      log(
        `${endpoint} c=${concurrency}: through p50 ${through.latency.p50} p99 ${through.latency.p99} ms, ${through.rps} req/s` +
          (row.overhead ? `; overhead p50 ${row.overhead.p50} p99 ${row.overhead.p99} ms` : '') +
          (through.errors || direct?.errors ? `; errors ${direct?.errors ?? 0}/${through.errors}` : ''),
      );
    }
  }

  // Memory of every server right after the cells (RSS now and its peak), before anything stops;
  // then each Node server's heap before and after a full GC (bench/lib/memory-report.mjs).
  const memory: MemoryReport[] = Object.entries(servers).map(([name, pids]) => {
    const m = pids.map(processMemoryMiB);
    return {
      name,
      pids,
      rssMiB: round(
        m.reduce((a, x) => a + x.rss, 0),
        1,
      ),
      peakMiB: round(
        m.reduce((a, x) => a + x.peak, 0),
        1,
      ),
    };
  });
  for (const m of memory) {
    const nodeServer =
      m.name.startsWith('ours@node') || m.name === 'portkey' || m.name === 'passthrough-node';
    if (nodeServer && m.pids.length === 1) {
      const heap = await readNodeMemory(m.pids[0]!, memoryDir);
      if (heap) m.heap = heap;
    }
  }

  // Process start to first chat answer on Node, ours (from source and the deploy bundle) against
  // Portkey, fresh processes, A B C C B A A B C.
  const coldStart: ColdStartReport[] = [];
  if (peersOn && peersRun.includes('portkey') && measured.includes('chat')) {
    const samples: Record<string, number[]> = { 'ours@node': [], 'ours@node-bundle': [], portkey: [] };
    const tryOnce = async (name: string) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/v1/chat/completions`;
      if (name === 'portkey') {
        const [command, cmdArgs] = portkeyCommand(port);
        const s = atPeer('portkey', specs.chat.direct!);
        samples[name]!.push(await coldStartMs(command, cmdArgs, { ...s, url }));
      } else {
        samples[name]!.push(
          await coldStartMs(
            pinnedNode(),
            serveCommand(name.slice('ours@'.length), join(bundleRoot, 'all')).flat(),
            { ...specs.chat.through, url },
            {
              BENCH_VARS: JSON.stringify(env.vars),
              BENCH_PORT: String(port),
            },
          ),
        );
      }
    };
    // Ours' first try starts with no compile cache (node/serve.mjs keeps one): a cold first start;
    // its later tries are restarts, which the cache serves. Portkey keeps none.
    rmSync(COMPILE_CACHE_DIR, { recursive: true, force: true });
    const order = Object.keys(samples);
    for (const name of [...order, ...[...order].reverse(), ...order]) await tryOnce(name);
    for (const [name, v] of Object.entries(samples)) {
      coldStart.push({
        name,
        samplesMs: v.map((x) => round(x, 1)),
        medianMs: round(median(v), 1),
        minMs: round(Math.min(...v), 1),
      });
    }
    log(`cold start (median ms): ${coldStart.map((c) => `${c.name} ${c.medianMs}`).join(', ')}`);
  }

  // Server-Timing at concurrency 1: what the gateway says it spent (gateway) and waited (upstream),
  // next to what the client saw; the rest is the runtime's HTTP in and out. (On workerd the clock
  // only advances across I/O, so `gateway` reads ~0 there.)
  const serverTiming: Array<{
    endpoint: string;
    n: number;
    clientP50: number;
    gatewayP50: number;
    upstreamP50: number;
  }> = [];
  for (const endpoint of measured.filter((e) => ['chat', 'messages', 'embed', 'stream'].includes(e))) {
    const s = specs[endpoint].through;
    const client = new Samples();
    const gateway = new Samples();
    const upstream = new Samples();
    for (let i = 0; i < (quick ? 20 : 200); i++) {
      const t0 = performance.now();
      const res = await fetch(s.url, {
        method: s.method,
        headers: s.headers ?? {},
        body: s.body ?? null,
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      client.push(performance.now() - t0);
      const header = res.headers.get('server-timing') ?? '';
      const dur = (name: string) =>
        Number(new RegExp(`${name};dur=([0-9.]+)`).exec(header)?.[1] ?? Number.NaN);
      if (!Number.isNaN(dur('gateway'))) gateway.push(dur('gateway'));
      if (!Number.isNaN(dur('upstream'))) upstream.push(dur('upstream'));
    }
    serverTiming.push({
      endpoint,
      n: client.length,
      clientP50: round(client.summary().p50, 3),
      gatewayP50: round(gateway.summary().p50, 3),
      upstreamP50: round(upstream.summary().p50, 3),
    });
  }

  const targets = evaluateTargets({
    runtime,
    rows,
    bundles: withBundles ? bundles : [],
    comparisons,
    memory,
    coldStart,
    isolateStart,
    ...(isolateEmptyWorker ? { isolateEmptyWorkerMs: isolateEmptyWorker.firstRequestMs } : {}),
  });
  const result = {
    date,
    runtime,
    machine: { ...machineAtStart, loadavgAtEnd: loadavg().map((v) => round(v, 2)) },
    config: {
      rounds,
      measureSecondsPerTarget: duration,
      warmupSecondsPerWindow: warmupMs / 1000,
      concurrencies,
      endpoints,
      upstream: upstreamOptions,
      redis: args.redis !== 'off',
      logLevel: args['log-level'],
      quick,
      peers: peersOn,
      also: alsoRuntimes,
      node: { bench: process.version, servers: pinnedNode() },
    },
    bundles: bundles.map((b) => ({
      ...b,
      rawKiB: round(b.rawBytes / 1024, 1),
      gzipKiB: round(b.gzipBytes / 1024, 1),
    })),
    isolateStart,
    /** The empty Worker's isolate start in the same rounds: the runtime's own first request. */
    ...(isolateEmptyWorker ? { isolateEmptyWorker } : {}),
    cells: rows,
    /** Every peer, floor and second runtime of ours, per cell (CPU = its own process tree). */
    peers: participants,
    /** ours per runtime against the fair floor and Portkey: CPU, p50 and p99, and their ratios. */
    comparisons,
    memory,
    coldStart,
    serverTiming,
    skipped,
    targets,
    totalSeconds: round((performance.now() - started) / 1000, 1),
  };

  console.log(`\n${runtime} — latencies in ms; Δ = through − direct; cpu = the function's process tree\n`);
  console.log(overheadTable(rows));
  if (bundles.length && withBundles) {
    console.log(
      `\n${formatTable(
        ['deployment', 'raw KiB', 'gzip KiB'],
        result.bundles.map((b) => [b.deployment, b.rawKiB.toFixed(1), b.gzipKiB.toFixed(1)]),
      )}`,
    );
  }
  if (isolateStart.length) {
    console.log(
      `\n${formatTable(
        ['deployment', 'start→ready ms', 'first req ms', 'ours (− empty Worker) ms', 'warm req ms'],
        [...(isolateEmptyWorker ? [isolateEmptyWorker] : []), ...isolateStart].map((s) => [
          s.deployment,
          s.startMs.toFixed(1),
          s.firstRequestMs.toFixed(2),
          'oursMs' in s && s.oursMs !== undefined ? s.oursMs.toFixed(2) : '',
          s.warmRequestMs.toFixed(2),
        ]),
      )}`,
    );
  }
  if (comparisons.length) {
    console.log(`\n${comparisonTable(comparisons)}`);
    console.log(`\n${memoryTable(memory)}`);
  }
  if (coldStart.length) console.log(`\n${coldStartTable(coldStart)}`);
  if (serverTiming.length) {
    console.log(
      `\n${formatTable(
        ['server-timing (c=1, p50 ms)', 'client', 'gateway', 'upstream'],
        serverTiming.map((t) => [
          t.endpoint,
          String(t.clientP50),
          String(t.gatewayP50),
          String(t.upstreamP50),
        ]),
      )}`,
    );
  }
  if (targets.length) {
    console.log(
      `\n${formatTable(
        ['issue', 'target', 'goal', 'measured', 'met'],
        targets.map((t) => [`#${t.issue}`, t.name, t.goal, String(t.value), t.met ? 'yes' : 'NO']),
      )}`,
    );
  }
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${date}-${runtime}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${file} (${result.totalSeconds} s in all)`);
  if (Object.keys(skipped).length) {
    console.error(`[bench] skipped, failing the run: ${JSON.stringify(skipped)}`);
    exitCode = 1;
  }
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  for (const c of peerChildren) await c.stop();
  await env.stop();
}
process.exit(exitCode);
