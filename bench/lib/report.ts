/** Turning measured windows into the result JSON and the stdout tables. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import type { Summary, WindowResult } from './stats.ts';

export interface CellReport {
  requests: number;
  seconds: number;
  rps: number;
  errors: number;
  statuses: Record<string, number>;
  latency: Summary;
  ttfb?: Summary;
  /** CPU ms per request of each watched process tree (fn = the runtime under test). */
  cpuMsPerRequest: Record<string, number>;
}

export interface OverheadReport {
  endpoint: string;
  concurrency: number;
  direct?: CellReport;
  through: CellReport;
  /** through − direct, per percentile (ms); absent when there is no floor (audit). */
  overhead?: { p50: number; p90: number; p99: number; max: number; ttfbP50?: number; ttfbP99?: number };
  /** through / direct. */
  ratio?: { p50: number; p99: number; rps: number };
}

export function cellReport(w: WindowResult): CellReport {
  const perRequest: Record<string, number> = {};
  for (const [k, v] of Object.entries(w.cpuMs))
    perRequest[k] = w.requests ? round(v / w.requests, 4) : Number.NaN;
  return {
    requests: w.requests,
    seconds: round(w.seconds, 3),
    rps: round(w.requests / w.seconds, 1),
    errors: w.errors,
    statuses: w.statuses,
    latency: roundSummary(w.latency.summary()),
    ...(w.ttfb ? { ttfb: roundSummary(w.ttfb.summary()) } : {}),
    cpuMsPerRequest: perRequest,
  };
}

export function compare(
  endpoint: string,
  concurrency: number,
  through: CellReport,
  direct?: CellReport,
): OverheadReport {
  if (!direct) return { endpoint, concurrency, through };
  const d = (k: keyof Summary) => round(through.latency[k] - direct.latency[k], 3);
  return {
    endpoint,
    concurrency,
    direct,
    through,
    overhead: {
      p50: d('p50'),
      p90: d('p90'),
      p99: d('p99'),
      max: d('max'),
      ...(through.ttfb && direct.ttfb
        ? {
            ttfbP50: round(through.ttfb.p50 - direct.ttfb.p50, 3),
            ttfbP99: round(through.ttfb.p99 - direct.ttfb.p99, 3),
          }
        : {}),
    },
    ratio: {
      p50: round(through.latency.p50 / direct.latency.p50, 2),
      p99: round(through.latency.p99 / direct.latency.p99, 2),
      rps: round(through.rps / direct.rps, 3),
    },
  };
}

export function machineInfo() {
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !==
      '';
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    loadavgAtStart: loadavg().map((v) => round(v, 2)),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
    dirty,
  };
}

const f = (v: number | undefined, digits = 2) =>
  v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);

/** One line per endpoint × concurrency: floor, through, overhead, ratio, rates, CPU. */
export function overheadTable(rows: OverheadReport[]): string {
  const head = [
    'endpoint',
    'conc',
    'direct p50/p99',
    'through p50/p90/p99/max',
    'Δp50',
    'Δp99',
    'ratio p50',
    'req/s direct/through',
    'errors',
    'fn cpu ms/req (workerd)',
    'stack/pg cpu ms/req',
  ];
  const lines = rows.map((r) => {
    const t = r.through;
    const dl = r.direct?.latency;
    const base = [
      r.endpoint,
      String(r.concurrency),
      dl ? `${f(dl.p50)}/${f(dl.p99)}` : '-',
      `${f(t.latency.p50)}/${f(t.latency.p90)}/${f(t.latency.p99)}/${f(t.latency.max)}`,
      f(r.overhead?.p50, 3),
      f(r.overhead?.p99, 3),
      r.ratio ? `${f(r.ratio.p50)}x` : '-',
      `${r.direct ? f(r.direct.rps, 0) : '-'}/${f(t.rps, 0)}`,
      `${r.direct?.errors ?? 0}/${t.errors}`,
      t.cpuMsPerRequest.workerd
        ? `${f(t.cpuMsPerRequest.fn, 3)} (${f(t.cpuMsPerRequest.workerd, 3)})`
        : f(t.cpuMsPerRequest.fn, 3),
      `${f(t.cpuMsPerRequest.stack, 3)}/${f(t.cpuMsPerRequest.postgres, 3)}`,
    ];
    return base;
  });
  const ttfbRows = rows
    .filter((r) => r.through.ttfb)
    .map((r) => [
      `${r.endpoint} ttfb`,
      String(r.concurrency),
      r.direct?.ttfb ? `${f(r.direct.ttfb.p50)}/${f(r.direct.ttfb.p99)}` : '-',
      `${f(r.through.ttfb!.p50)}/${f(r.through.ttfb!.p90)}/${f(r.through.ttfb!.p99)}/${f(r.through.ttfb!.max)}`,
      f(r.overhead?.ttfbP50, 3),
      f(r.overhead?.ttfbP99, 3),
      r.direct?.ttfb ? `${f(r.through.ttfb!.p50 / r.direct.ttfb.p50)}x` : '-',
      '',
      '',
      '',
      '',
    ]);
  return formatTable(head, [...lines, ...ttfbRows]);
}

export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function round(v: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

function roundSummary(s: Summary): Summary {
  return {
    n: s.n,
    p50: round(s.p50, 3),
    p90: round(s.p90, 3),
    p99: round(s.p99, 3),
    max: round(s.max, 3),
    mean: round(s.mean, 3),
  };
}
