/**
 * `npm start` against the bundle on bare workerd (the workerd-raw runtime), in one run: both on
 * the same stack, fake upstream and vars, windows interleaved A B, B A in every cell, CPU ms per
 * request of each one's process tree (and of its workerd processes alone), and the ratio.
 *   node bench/npm-start.ts [--duration 4] [--concurrency 1,8] [--only chat,stream,embed]
 * Target (#23): npm start ≤ 1.3× bare workerd's CPU per request.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { giveUpAfter, startChild } from './lib/children.ts';
import { findDescendants } from './lib/cpu.ts';
import { bearer, functionVars } from './lib/keys.ts';
import { type RequestSpec, runAutocannon } from './lib/loadgen.ts';
import { cellReport, formatTable, machineInfo, round } from './lib/report.ts';
import { buildBundles, setupBench } from './lib/setup.ts';
import { mergeWindows, type WindowResult } from './lib/stats.ts';
import { runStreams } from './lib/stream-client.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1,8' },
    only: { type: 'string', default: 'chat,stream,embed' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const log = (line: string) => console.log(`[bench] ${line}`);
const rounds = Number(args.rounds);
const measureMs = (Number(args.duration) * 1000) / rounds;
const concurrencies = args.concurrency!.split(',').map(Number);
const endpoints = args.only!.split(',');
giveUpAfter('bench', 900);

const bundleRoot = 'bench/.dist';
await buildBundles(['all'], bundleRoot);
const bundleDir = join(bundleRoot, 'all');
const env = await setupBench({
  runtime: 'workerd-raw',
  upstream: { chunks: 8, delayMs: 0, dim: 1536 },
  bundleDir,
  redis: true,
  logLevel: 'warn',
  log,
});
const vars = functionVars({
  stackSettings: env.stack.info.settings,
  upstreamUrl: env.upstream.info.url,
  mcpUrl: env.mcp.info.url,
  redis: true,
  logLevel: 'warn',
});
let exitCode = 0;
const npm = await startChild<{ url: string }>('npm-start', 'bench/lib/serve.ts', ['npm-start', bundleDir], {
  env: { BENCH_VARS: JSON.stringify(vars) },
});
try {
  log(`workerd-raw ${env.fn.info.url}, npm start ${npm.info.url}`);
  const watch = {
    raw: env.fn.pid,
    rawWorkerd: env.watch.workerd,
    npm: npm.pid,
    npmWorkerd: findDescendants(npm.pid, /^workerd/),
  };
  const headers = { 'content-type': 'application/json', authorization: bearer('agent') };
  const messages = [{ role: 'user', content: 'Say hello.' }];
  const bodies: Record<string, string> = {
    chat: JSON.stringify({ model: 'fast', messages }),
    stream: JSON.stringify({ model: 'fast', stream: true, messages }),
    embed: JSON.stringify({ model: 'embedding', input: 'The quick brown fox.' }),
  };
  const paths: Record<string, string> = {
    chat: '/v1/chat/completions',
    stream: '/v1/chat/completions',
    embed: '/v1/embeddings',
  };
  const cells: unknown[] = [];
  const rows: string[][] = [];
  for (const endpoint of endpoints) {
    for (const concurrency of concurrencies) {
      const spec = (base: string): RequestSpec => ({
        method: 'POST',
        url: `${base}${paths[endpoint]}`,
        headers,
        body: bodies[endpoint]!,
      });
      const targets: Array<[string, RequestSpec]> = [
        ['raw', spec(env.fn.info.url)],
        ['npm', spec(npm.info.url)],
      ];
      const windows: Record<string, WindowResult[]> = { raw: [], npm: [] };
      const opts = { concurrency, warmupMs: 500, measureMs, watch };
      for (let r = 0; r < rounds; r++) {
        for (const [name, s] of r % 2 === 0 ? targets : [...targets].reverse()) {
          windows[name]!.push(await (endpoint === 'stream' ? runStreams(s, opts) : runAutocannon(s, opts)));
        }
      }
      const raw = cellReport(mergeWindows(windows.raw!));
      const ours = cellReport(mergeWindows(windows.npm!));
      const cell = {
        endpoint,
        concurrency,
        rawCpuMsPerRequest: raw.cpuMsPerRequest.raw!,
        rawWorkerdCpuMsPerRequest: raw.cpuMsPerRequest.rawWorkerd!,
        npmStartCpuMsPerRequest: ours.cpuMsPerRequest.npm!,
        npmStartWorkerdCpuMsPerRequest: ours.cpuMsPerRequest.npmWorkerd!,
        ratio: round(ours.cpuMsPerRequest.npm! / raw.cpuMsPerRequest.raw!, 2),
        workerdRatio: round(ours.cpuMsPerRequest.npmWorkerd! / raw.cpuMsPerRequest.rawWorkerd!, 2),
        p50: { raw: raw.latency.p50, npmStart: ours.latency.p50 },
        requests: { raw: raw.requests, npmStart: ours.requests },
        errors: { raw: raw.errors, npmStart: ours.errors },
      };
      cells.push(cell);
      rows.push([
        endpoint,
        String(concurrency),
        String(cell.rawCpuMsPerRequest),
        String(cell.npmStartCpuMsPerRequest),
        String(cell.ratio),
        String(cell.rawWorkerdCpuMsPerRequest),
        String(cell.npmStartWorkerdCpuMsPerRequest),
        String(cell.workerdRatio),
        `${raw.latency.p50} / ${ours.latency.p50}`,
        `${raw.errors} / ${ours.errors}`,
      ]);
      log(
        `${endpoint} c=${concurrency}: npm start / bare workerd cpu ${cell.ratio} (workerd alone ${cell.workerdRatio})`,
      );
    }
  }
  console.log(
    `\n${formatTable(
      [
        'cell',
        'c',
        'bare cpu ms/req',
        'npm start cpu ms/req',
        'ratio',
        'bare workerd-only',
        'npm start workerd-only',
        'ratio',
        'p50 ms bare / npm',
        'errors',
      ],
      rows,
    )}\n`,
  );
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${new Date().toISOString().slice(0, 10)}-npm-start-vs-workerd-raw.json`);
  writeFileSync(file, `${JSON.stringify({ machine: machineInfo(), rounds, measureMs, cells }, null, 2)}\n`);
  console.log(`wrote ${file}`);
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  await npm.stop();
  await env.stop();
}
process.exit(exitCode);
