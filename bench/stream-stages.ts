/**
 * `npm run bench:stream-stages`: what forwarding one SSE stream costs bare workerd, stage by stage,
 * apart from everything else the gateway does per request (auth, limits, routing, usage rows). One
 * Worker (bench/lib/peers/stream-stages-worker.js) under the bench's workerd binary and the fast
 * fake upstream (8 content chunks + finish + usage + [DONE], each its own chunk on the wire),
 * answering the same stream five ways: `passthrough` (the passthrough Worker's stream: the upstream
 * response returned), `native` (its body in a new Response), `pull` (a JavaScript pull source that
 * enqueues each read and nothing else: the least any stage that sees the bytes does), `tee` (the
 * bytes out natively, JavaScript reading a tee'd copy chunk by chunk) and `tap` (ours:
 * shared/llm/providers/openai/openai-stream-tap.ts, bundled from source). Stages interleave A B … B
 * A; the headline is workerd's CPU ms per stream (/proc), with each stage's ratio to `passthrough`.
 *   node bench/stream-stages.ts [--concurrency 1,8] [--seconds 2] [--rounds 2] [--out bench/results]
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { freePort } from '../local/ports.ts';
import { giveUpAfter, startChild } from './lib/children.ts';
import { formatTable, round } from './lib/report.ts';
import { bareWorkerdConfig, workerdBinary, wranglerCompat } from './lib/runtimes.ts';
import { runStreams } from './lib/stream-client.ts';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,8' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    stages: { type: 'string', default: 'passthrough,native,pull,tee,tap' },
    out: { type: 'string', default: 'bench/results' },
    'max-seconds': { type: 'string', default: '300' },
  },
});
const stages = args.stages!.split(',');
const log = (line: string) => console.log(`[stream-stages] ${line}`);
giveUpAfter('stream-stages', Number(args['max-seconds']));

const dir = mkdtempSync(join(tmpdir(), 'mas-stream-stages-'));
copyFileSync(join(import.meta.dirname, 'lib', 'peers', 'stream-stages-worker.js'), join(dir, 'worker.js'));
await build({
  entryPoints: [join(import.meta.dirname, 'lib', 'stream-stages-tap.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  outfile: join(dir, 'tap.js'),
  logLevel: 'warning',
});
const upstream = await startChild<{ url: string }>('upstream', 'bench/lib/fake-upstream.ts', [
  JSON.stringify({ chunks: 8, delayMs: 0 }),
]);
const port = await freePort();
const { compatibilityDate } = wranglerCompat();
writeFileSync(
  join(dir, 'config.capnp'),
  bareWorkerdConfig(port, ['worker.js', 'tap.js'], { UPSTREAM: upstream.info.url }),
);
const workerd = spawn(workerdBinary(), ['serve', join(dir, 'config.capnp'), '--experimental'], {
  stdio: ['ignore', 'ignore', 'ignore'],
});
const origin = `http://127.0.0.1:${port}`;
const body = JSON.stringify({
  model: 'fast',
  stream: true,
  messages: [{ role: 'user', content: 'Say hello.' }],
});

interface Cell {
  stage: string;
  concurrency: number;
  streams: number;
  errors: number;
  cpuMs: number;
  ttfbP50: number[];
  latencyP50: number[];
}

try {
  for (let i = 0; ; i++) {
    const up = await fetch(`${origin}/passthrough`, { method: 'POST', body }).catch(() => undefined);
    if (up?.ok && (await up.text()).includes('[DONE]')) break;
    if (i > 100 || workerd.exitCode !== null) throw new Error('workerd did not answer the stage worker');
    await new Promise((r) => setTimeout(r, 100));
  }
  const load = loadavg();
  log(
    `compatibility date ${compatibilityDate}, load average ${load.map((l) => l.toFixed(2)).join(' / ')} at the start`,
  );
  const cells: Cell[] = [];
  for (const concurrency of args.concurrency!.split(',').map(Number)) {
    const order: string[] = [];
    for (let r = 0; r < Number(args.rounds); r++) order.push(...(r % 2 ? [...stages].reverse() : stages));
    for (const stage of order) {
      const w = await runStreams(
        { method: 'POST', url: `${origin}/${stage}`, headers: { 'content-type': 'application/json' }, body },
        {
          concurrency,
          warmupMs: 300,
          measureMs: Number(args.seconds) * 1000,
          watch: { workerd: workerd.pid! },
        },
      );
      let cell = cells.find((c) => c.stage === stage && c.concurrency === concurrency);
      if (!cell) {
        cell = { stage, concurrency, streams: 0, errors: 0, cpuMs: 0, ttfbP50: [], latencyP50: [] };
        cells.push(cell);
      }
      cell.streams += w.requests;
      cell.errors += w.errors;
      cell.cpuMs += w.cpuMs.workerd!;
      cell.ttfbP50.push(w.ttfb?.summary().p50 ?? Number.NaN);
      cell.latencyP50.push(w.latency.summary().p50);
    }
  }
  const perStream = (c: Cell) => c.cpuMs / Math.max(1, c.streams - c.errors);
  const rows = cells.map((c) => {
    const floor = cells.find((f) => f.stage === 'passthrough' && f.concurrency === c.concurrency);
    return {
      ...c,
      cpuMsPerStream: round(perStream(c), 3),
      ratio: floor ? round(perStream(c) / perStream(floor), 2) : null,
    };
  });
  console.log(
    `\n${formatTable(
      ['stage', 'c', 'streams', 'errors', 'workerd cpu ms/stream', '/ passthrough', 'ttfb p50 ms', 'p50 ms'],
      rows.map((r) => [
        r.stage,
        String(r.concurrency),
        String(r.streams),
        String(r.errors),
        r.cpuMsPerStream.toFixed(3),
        r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
        r.ttfbP50.map((v) => v.toFixed(2)).join(' / '),
        r.latencyP50.map((v) => v.toFixed(2)).join(' / '),
      ]),
    )}`,
  );
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${new Date().toISOString().slice(0, 10)}-stream-stages.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        workerd: compatibilityDate,
        loadAverageAtStart: load,
        config: { seconds: Number(args.seconds), rounds: Number(args.rounds), chunks: 8 },
        cells: rows,
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${file}`);
} finally {
  workerd.kill('SIGTERM');
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
