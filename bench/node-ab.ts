/**
 * `npm run bench:node-ab -- --a <bundle dir> --b <bundle dir>`: two builds of ours on Node
 * (each dir holds a deploy bundle's index.js, e.g. one built from main and one from a branch),
 * served side by side by bench/lib/serve-node.mjs on the bench's stack and fake upstream, loaded
 * in turn A B B A per round and concurrency: CPU ms per request of each process (/proc), p50 and
 * p99, and B/A. On a loaded machine only such interleaved ratios mean much.
 *   node bench/node-ab.ts --a DIR --b DIR [--endpoint chat|embed] [--concurrency 1,8,32]
 *                         [--seconds 2] [--rounds 3] [--b-node-options=--max-semi-space-size=32]
 */
import { parseArgs } from 'node:util';
import { giveUpAfter, startChild } from './lib/children.ts';
import { processMemoryMiB } from './lib/cpu.ts';
import { runAutocannon } from './lib/loadgen.ts';
import { profileRequest } from './lib/profile-requests.ts';
import { formatTable, round } from './lib/report.ts';
import { setupBench } from './lib/setup.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    endpoint: { type: 'string', default: 'chat' },
    concurrency: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    /** Node flags for B's process only (e.g. --max-semi-space-size=32): the same bundle twice. */
    'b-node-options': { type: 'string', default: '' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
if (!args.a || !args.b) throw new Error('--a and --b: two bundle dirs (each with index.js)');
giveUpAfter('node-ab', Number(args['max-seconds']));
const log = (line: string) => console.log(`[node-ab] ${line}`);

const env = await setupBench({
  runtime: 'node-bundle',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir: args.a,
  redis: true,
  logLevel: 'warn',
  log,
});
const b = await startChild<{ url: string }>('b', 'bench/lib/serve-node.mjs', [`${args.b}/index.js`], {
  env: { BENCH_VARS: JSON.stringify(env.vars), NODE_OPTIONS: args['b-node-options'] },
});
const sides = {
  a: { url: env.fn.info.url, pid: env.fn.pid },
  b: { url: b.info.url, pid: b.pid },
};
const rows: string[][] = [];
try {
  for (const concurrency of args.concurrency!.split(',').map(Number)) {
    const acc = {
      a: { cpu: 0, n: 0, p50: [] as number[], p99: [] as number[] },
      b: { cpu: 0, n: 0, p50: [] as number[], p99: [] as number[] },
    };
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const who of ['a', 'b', 'b', 'a'] as const) {
        const w = await runAutocannon(profileRequest(args.endpoint!, sides[who].url), {
          concurrency,
          warmupMs: 300,
          measureMs: (Number(args.seconds) * 1000) / 2,
          watch: { [who]: sides[who].pid },
        });
        if (w.errors) throw new Error(`${who}: ${w.errors} errors`);
        acc[who].cpu += w.cpuMs[who]!;
        acc[who].n += w.requests;
        const { p50, p99 } = w.latency.summary();
        acc[who].p50.push(p50);
        acc[who].p99.push(p99);
      }
    }
    const cpu = (s: typeof acc.a) => s.cpu / s.n;
    const med = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
    rows.push([
      String(concurrency),
      round(cpu(acc.a), 3).toFixed(3),
      round(cpu(acc.b), 3).toFixed(3),
      `${round(cpu(acc.b) / cpu(acc.a), 2)}×`,
      `${round(med(acc.a.p50), 2)} / ${round(med(acc.a.p99), 2)}`,
      `${round(med(acc.b.p50), 2)} / ${round(med(acc.b.p99), 2)}`,
      `${acc.a.n} / ${acc.b.n}`,
    ]);
    log(`c=${concurrency}: ${rows.at(-1)!.join('  ')}`);
  }
  const rss = (pid: number) => round(processMemoryMiB(pid).rss, 1);
  console.log(`\nRSS after the cells: A ${rss(sides.a.pid)} MiB, B ${rss(sides.b.pid)} MiB`);
  console.log(
    `\n${args.endpoint}: A = ${args.a}, B = ${args.b} ${args['b-node-options']}\n${formatTable(
      ['c', 'A cpu ms/req', 'B cpu ms/req', 'B/A', 'A p50 / p99 ms', 'B p50 / p99 ms', 'requests A / B'],
      rows,
    )}`,
  );
} finally {
  await b.stop();
  await env.stop();
}
process.exit(0);
