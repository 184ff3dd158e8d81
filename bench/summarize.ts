/**
 * Markdown tables from one `npm run bench` result, for bench/README.md:
 *   node bench/summarize.ts bench/results/<date>-<runtime>.json
 * CPU per request against the floors and Portkey (the headline), p99 beside Portkey's, memory,
 * cold start, and every target with met yes/no. Figures are the JSON's, rounded, nothing else.
 */
import { readFileSync } from 'node:fs';
import type { ColdStartReport, Comparison, MemoryReport } from './lib/peers.ts';
import type { Target } from './lib/targets.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/summarize.ts <result.json>');
const r = JSON.parse(readFileSync(file, 'utf8')) as {
  runtime: string;
  machine: { loadavgAtStart: number[]; commit: string };
  totalSeconds: number;
  comparisons: Comparison[];
  memory: MemoryReport[];
  coldStart: ColdStartReport[];
  targets: Target[];
  skipped?: Record<string, string>;
};

const f = (v: number | undefined, d = 2) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((x) => `| ${x.join(' | ')} |`),
  ].join('\n');

console.log(
  `${file}: runtime ${r.runtime}, commit ${r.machine.commit.slice(0, 7)}, load average at start ${r.machine.loadavgAtStart.join(', ')}, ${r.totalSeconds} s\n`,
);
console.log(
  table(
    [
      'cell',
      'c',
      'ours on',
      'ours cpu ms/req',
      'floor cpu ms/req',
      'ours/floor',
      'Portkey cpu ms/req',
      'ours/Portkey',
      'p99 ours / Portkey (ms)',
    ],
    r.comparisons.map((c) => [
      c.endpoint,
      String(c.concurrency),
      c.runtime,
      f(c.ours.cpu, 3),
      c.floor ? `${f(c.floor.cpu, 3)} (${c.floor.name.replace('passthrough-', '')})` : '-',
      c.floor ? `${f(c.floor.ratio.cpu)}×` : '-',
      f(c.portkey?.cpu, 3),
      c.portkey ? `${f(c.portkey.ratio.cpu)}×` : '-',
      `${f(c.ours.p99, 1)} / ${f(c.portkey?.p99, 1)}`,
    ]),
  ),
);
console.log(
  `\n${table(
    ['server', 'RSS after the cells (MiB)', 'peak (MiB)'],
    r.memory.map((m) => [m.name, f(m.rssMiB, 1), f(m.peakMiB, 1)]),
  )}`,
);
console.log(
  `\n${table(
    ['process start → first chat answer', 'median ms', 'min ms', 'samples ms'],
    r.coldStart.map((c) => [
      c.name,
      f(c.medianMs, 0),
      f(c.minMs, 0),
      c.samplesMs.map((v) => f(v, 0)).join(', '),
    ]),
  )}`,
);
console.log(
  `\n${table(
    ['issue', 'target', 'goal', 'measured', 'met'],
    r.targets.map((t) => [`#${t.issue}`, t.name, t.goal, String(t.value), t.met ? 'yes' : '**no**']),
  )}`,
);
if (r.skipped && Object.keys(r.skipped).length) console.log(`\nskipped: ${JSON.stringify(r.skipped)}`);
