/**
 * `npm run bench:workerd-ab -- --a <bundle dir> [--b <bundle dir>]`: two servers of ours on bare
 * workerd (each dir holds an `all` deploy bundle, e.g. one built from main and one from a branch:
 * `node -e "import('./local/build-bundles.ts').then((m) => m.buildBundle('all', '/tmp/x'))"` gives
 * /tmp/x/all; B defaults to A's bundle), on the bench's stack and fake upstream, loaded in turn
 * A B B A, then B A A B, per round and concurrency, as bench:node-ab does on Node: workerd CPU ms
 * per request of each (/proc), p50 and p99 over all the windows' responses (for streams, time to
 * the first byte too), and B/A. On a loaded machine only such interleaved ratios mean much.
 *   node bench/workerd-ab.ts --a DIR [--b DIR] [--endpoint chat|embed|stream] [--concurrency 1,8,32]
 *                            [--seconds 2] [--rounds 2] [--warmup 2]
 */
import { parseArgs } from 'node:util';
import { giveUpAfter, startChild } from './lib/children.ts';
import { findDescendants } from './lib/cpu.ts';
import { runAutocannon } from './lib/loadgen.ts';
import { profileEndpoint, profileRequest } from './lib/profile-requests.ts';
import { formatTable, round } from './lib/report.ts';
import { setupBench } from './lib/setup.ts';
import { mergeWindows, type WindowResult } from './lib/stats.ts';
import { runStreams } from './lib/stream-client.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    endpoint: { type: 'string', default: 'chat' },
    concurrency: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    /** Unmeasured load on each side first, so JIT warm-up is in neither side's windows. */
    warmup: { type: 'string', default: '2' },
    'max-seconds': { type: 'string', default: '900' },
  },
});
if (!args.a) throw new Error('--a: an `all` bundle dir (with index.js); --b defaults to the same');
const endpoint = profileEndpoint(args.endpoint);
giveUpAfter('workerd-ab', Number(args['max-seconds']));
const log = (line: string) => console.log(`[workerd-ab] ${line}`);

const env = await setupBench({
  runtime: 'workerd-raw',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir: args.a,
  redis: true,
  logLevel: 'warn',
  log,
});
// The stack's own function server is not one of the sides: both are started alike below.
await env.fn.stop();
const start = (who: 'a' | 'b', bundle: string) =>
  startChild<{ url: string }>(who, 'bench/lib/serve.ts', ['workerd-raw', bundle], {
    env: { BENCH_VARS: JSON.stringify(env.vars) },
  });
const children = { a: await start('a', args.a), b: await start('b', args.b ?? args.a) };
const workerd = {
  a: findDescendants(children.a.pid, /^workerd/),
  b: findDescendants(children.b.pid, /^workerd/),
};
const load = endpoint === 'stream' ? runStreams : runAutocannon;

for (const who of ['a', 'b'] as const) {
  await load(profileRequest(endpoint, children[who].info.url), {
    concurrency: 8,
    warmupMs: Number(args.warmup) * 1000,
    measureMs: 0,
    watch: {},
  });
}
const rows: string[][] = [];
const loads: number[] = [];
try {
  for (const concurrency of args.concurrency!.split(',').map(Number)) {
    const side = () => ({ cpu: 0, n: 0, windows: [] as WindowResult[] });
    const acc = { a: side(), b: side() };
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const who of r % 2 ? (['b', 'a', 'a', 'b'] as const) : (['a', 'b', 'b', 'a'] as const)) {
        const w = await load(profileRequest(endpoint, children[who].info.url), {
          concurrency,
          warmupMs: 300,
          measureMs: (Number(args.seconds) * 1000) / 2,
          watch: { [who]: workerd[who] },
        });
        if (w.errors) throw new Error(`${who}: ${w.errors} errors`);
        acc[who].cpu += w.cpuMs[who]!;
        acc[who].n += w.requests;
        acc[who].windows.push(w);
      }
    }
    loads.push((await import('node:os')).loadavg()[0]!);
    const cpu = (s: typeof acc.a) => s.cpu / s.n;
    const merged = { a: mergeWindows(acc.a.windows), b: mergeWindows(acc.b.windows) };
    const lat = (who: 'a' | 'b') => {
      const l = merged[who].latency.summary();
      const f = merged[who].ttfb?.summary();
      return `${round(l.p50, 2)} / ${round(l.p99, 2)}${f ? ` (first byte ${round(f.p50, 3)})` : ''}`;
    };
    rows.push([
      String(concurrency),
      round(cpu(acc.a), 3).toFixed(3),
      round(cpu(acc.b), 3).toFixed(3),
      `${round(cpu(acc.b) / cpu(acc.a), 3)}×`,
      lat('a'),
      lat('b'),
      `${acc.a.n} / ${acc.b.n}`,
    ]);
    log(`c=${concurrency}: ${rows.at(-1)!.join('  ')} (load ${round(loads.at(-1)!, 1)})`);
  }
  console.log(
    `\n${endpoint} on bare workerd: A = ${args.a}, B = ${args.b ?? args.a}; load average ${loads
      .map((l) => round(l, 1))
      .join(', ')}\n${formatTable(
      [
        'c',
        'A workerd cpu ms/req',
        'B workerd cpu ms/req',
        'B/A',
        'A p50 / p99 ms',
        'B p50 / p99 ms',
        'requests A / B',
      ],
      rows,
    )}`,
  );
} finally {
  await children.b.stop();
  await children.a.stop();
  await env.stop();
}
process.exit(0);
