/**
 * The targets a run is judged by: issue #7's (latency overhead on the runtime under test, bundle
 * ceilings, audit writes) and issue #23's (CPU per request against the floors and Portkey, tail,
 * memory, cold start, bundles, isolate start), each `met` yes/no from this one run's figures.
 */
import { targetKiB } from '../../local/build-bundles.ts';
import type { ColdStartReport, Comparison, MemoryReport } from './peers.ts';
import { type OverheadReport, round } from './report.ts';

export interface Target {
  issue: 7 | 23;
  name: string;
  goal: string;
  value: number | string;
  met: boolean;
}

export interface TargetInputs {
  runtime: string;
  rows: OverheadReport[];
  bundles: Array<{ deployment: string; gzipBytes: number }>;
  comparisons: Comparison[];
  memory: MemoryReport[];
  coldStart: ColdStartReport[];
  isolateStart: Array<{ deployment: string; firstRequestMs: number }>;
  /** The empty Worker's first request in the same rounds, named beside the worst deployment. */
  isolateEmptyWorkerMs?: number;
}

export function evaluateTargets(o: TargetInputs): Target[] {
  return [...issue7(o.rows, o.bundles), ...issue23(o)];
}

function issue7(rows: OverheadReport[], sizes: TargetInputs['bundles']): Target[] {
  const at = (endpoint: string) => {
    const candidates = rows.filter((r) => r.endpoint === endpoint);
    return candidates.find((r) => r.concurrency === 32) ?? candidates.at(-1);
  };
  const out: Target[] = [];
  const chat = at('chat');
  if (chat?.overhead) {
    const c = `c=${chat.concurrency}`;
    out.push({
      issue: 7,
      name: `chat overhead p50 (${c})`,
      goal: '≤ 0.5 ms',
      value: chat.overhead.p50,
      met: chat.overhead.p50 <= 0.5,
    });
    out.push({
      issue: 7,
      name: `chat overhead p99 (${c})`,
      goal: '≤ 3 ms',
      value: chat.overhead.p99,
      met: chat.overhead.p99 <= 3,
    });
  }
  const stream = at('stream');
  if (stream?.overhead?.ttfbP50 !== undefined) {
    const v = stream.overhead.ttfbP50;
    out.push({
      issue: 7,
      name: `stream first-byte overhead p50 (c=${stream.concurrency})`,
      goal: '≤ 1 ms',
      value: v,
      met: v <= 1,
    });
  }
  for (const [deployment, kib] of [
    ['chat', 300],
    ['health', 50],
  ] as const) {
    const b = sizes.find((s) => s.deployment === deployment);
    if (b) {
      const v = round(b.gzipBytes / 1024, 1);
      out.push({
        issue: 7,
        name: `${deployment} bundle gzip`,
        goal: `≤ ${kib} KiB`,
        value: v,
        met: v <= kib,
      });
    }
  }
  const audit = at('audit');
  if (audit) {
    out.push({
      issue: 7,
      name: `audit write p99 (c=${audit.concurrency})`,
      goal: '≤ 15 ms',
      value: audit.through.latency.p99,
      met: audit.through.latency.p99 <= 15,
    });
    out.push({
      issue: 7,
      name: `audit writes/s (c=${audit.concurrency})`,
      goal: '≥ 1000',
      value: audit.through.rps,
      met: audit.through.rps >= 1000,
    });
  }
  return out;
}

function issue23(o: TargetInputs): Target[] {
  const out: Target[] = [];
  const cmp = (endpoint: string, runtime: string) =>
    o.comparisons.filter((c) => c.endpoint === endpoint && c.runtime === runtime);
  // CPU per request against the floor on bare workerd, and against Portkey on Node.
  for (const [endpoint, bound] of [
    ['chat', 1.3],
    ['embed', 1.3],
    ['stream', 1.5],
  ] as const) {
    for (const c of cmp(endpoint, 'workerd-raw')) {
      if (!c.floor) continue;
      out.push({
        issue: 23,
        name: `${endpoint} cpu/req, bare workerd, c=${c.concurrency}: ours / passthrough Worker`,
        goal: `≤ ${bound}×`,
        value: c.floor.ratio.cpu,
        met: c.floor.ratio.cpu <= bound,
      });
    }
  }
  for (const endpoint of ['chat', 'embed']) {
    for (const c of [...cmp(endpoint, 'node'), ...cmp(endpoint, 'node-bundle')]) {
      if (!c.portkey) continue;
      out.push({
        issue: 23,
        name: `${endpoint} cpu/req, ${c.runtime}, c=${c.concurrency}: ours / Portkey`,
        goal: '≤ 0.6×',
        value: c.portkey.ratio.cpu,
        met: c.portkey.ratio.cpu <= 0.6,
      });
    }
  }
  const stream1 = o.rows.find((r) => r.endpoint === 'stream' && r.concurrency === 1);
  if (stream1?.overhead?.ttfbP50 !== undefined) {
    out.push({
      issue: 23,
      name: `stream first-byte overhead p50, ${o.runtime}, c=1`,
      goal: '≤ 0.5 ms',
      value: stream1.overhead.ttfbP50,
      met: stream1.overhead.ttfbP50 <= 0.5,
    });
  }
  // Tail: p99 on Node beside Portkey's, c=8 and c=32.
  for (const endpoint of ['chat', 'embed']) {
    for (const c of [...cmp(endpoint, 'node'), ...cmp(endpoint, 'node-bundle')]) {
      if (!c.portkey || c.concurrency < 8) continue;
      out.push({
        issue: 23,
        name: `${endpoint} p99, ${c.runtime}, c=${c.concurrency}: ours / Portkey (ms)`,
        goal: '≤ Portkey',
        value: `${c.ours.p99} / ${c.portkey.p99}`,
        met: c.ours.p99 <= c.portkey.p99,
      });
    }
  }
  const mem = (name: string) => o.memory.find((m) => m.name === name);
  const cold = (name: string) => o.coldStart.find((s) => s.name === name);
  for (const r of ['node', 'node-bundle']) {
    const ours = mem(`ours@${r}`);
    const portkey = mem('portkey');
    if (ours && portkey) {
      out.push({
        issue: 23,
        name: `RSS after the cells, ${r}: ours / Portkey (MiB)`,
        goal: '≤ Portkey',
        value: `${round(ours.rssMiB, 1)} / ${round(portkey.rssMiB, 1)}`,
        met: ours.rssMiB <= portkey.rssMiB,
      });
    }
  }
  for (const r of ['node', 'node-bundle']) {
    const ours = cold(`ours@${r}`);
    const portkey = cold('portkey');
    if (ours && portkey) {
      out.push({
        issue: 23,
        name: `process start → first chat answer, ${r}: ours / Portkey (median ms)`,
        goal: '≤ Portkey',
        value: `${round(ours.medianMs, 1)} / ${round(portkey.medianMs, 1)}`,
        met: ours.medianMs <= portkey.medianMs,
      });
    }
  }
  // One row per function, judged by `npm run build`'s table (local/build-bundles.ts); `all` has none.
  for (const b of o.bundles) {
    const kib = targetKiB(b.deployment);
    if (kib === null) continue;
    const v = round(b.gzipBytes / 1024, 1);
    out.push({
      issue: 23,
      name: `${b.deployment} bundle gzip`,
      goal: `≤ ${kib} KiB`,
      value: v,
      met: v <= kib,
    });
  }
  if (o.isolateStart.length) {
    const worst = o.isolateStart.reduce((a, b) => (b.firstRequestMs > a.firstRequestMs ? b : a));
    out.push({
      issue: 23,
      name:
        o.isolateEmptyWorkerMs === undefined
          ? `isolate start, first request (worst: ${worst.deployment})`
          : `isolate start, first request (worst: ${worst.deployment}; the empty Worker ${o.isolateEmptyWorkerMs})`,
      goal: '≤ 10 ms',
      value: worst.firstRequestMs,
      met: worst.firstRequestMs <= 10,
    });
  }
  return out;
}
