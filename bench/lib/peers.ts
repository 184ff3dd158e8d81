/**
 * The peers of issue #23 in the chat, stream and embed cells: ours on a second runtime, the two
 * passthrough floors and Portkey's open-source gateway, all on the same fake upstream and
 * interleaved with `direct` and `through` (A B … B A). The headline figure is CPU ms per request
 * of each server's process tree; the ratios pair ours on a runtime with the floor on that runtime
 * (bare workerd ↔ the passthrough Worker, Node ↔ the Hono passthrough) and with Portkey (Node), and
 * ours on bare workerd with Portkey on the same bare workerd (`portkey-workerd`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CellReport, formatTable, round } from './report.ts';

/**
 * passthrough-*: ten lines forwarding to the fake. io-floor-workerd: the workerd passthrough plus
 * the Redis and Postgres I/O a gateway does per request, made as ours makes it
 * (peers/io-floor-worker.ts): ours / it is our JavaScript, it / the passthrough the I/O.
 */
export const FLOORS = ['passthrough-workerd', 'io-floor-workerd', 'passthrough-node'] as const;
/** portkey: its published Node build; portkey-workerd: the same gateway as a Worker on bare workerd. */
export const PEERS = [...FLOORS, 'portkey', 'portkey-workerd'] as const;
export type Peer = (typeof PEERS)[number];
export const PEER_ENDPOINTS: readonly string[] = ['chat', 'stream', 'embed'];

/** The floor on the same runtime as ours on `runtime` (Miniflare's `workerd` and npm start get the bare one). */
export function fairFloor(runtime: string): Peer | undefined {
  if ((runtime.startsWith('workerd') && runtime !== 'workerd-dev') || runtime === 'npm-start')
    return 'passthrough-workerd';
  if (runtime === 'node' || runtime === 'node-bundle') return 'passthrough-node';
  return undefined;
}

/** The I/O floor on the runtime of ours on `runtime`, where there is one (workerd). */
export function fairIoFloor(runtime: string): Peer | undefined {
  return fairFloor(runtime) === 'passthrough-workerd' ? 'io-floor-workerd' : undefined;
}

/** One participant's merged windows in one cell. */
export interface Participant {
  endpoint: string;
  concurrency: number;
  /** `ours@<runtime>` for ours on a second runtime, else the peer's name. */
  name: string;
  kind: 'ours' | 'floor' | 'peer';
  cell: CellReport;
  /** CPU ms per request of its own process tree. */
  cpuMsPerRequest: number;
}

interface Side {
  cpu: number;
  p50: number;
  p99: number;
}

/** ours on one runtime against the fair floor and Portkey, in one cell. */
export interface Comparison {
  endpoint: string;
  concurrency: number;
  runtime: string;
  ours: Side;
  floor?: Side & { name: Peer; ratio: { cpu: number; p50: number; p99: number } };
  /**
   * The I/O floor (workerd): `ratio` is ours / it (our JavaScript's share), `overFloor` is it /
   * the passthrough (the runtime's cost of the gateway's I/O).
   */
  ioFloor?: Side & { name: Peer; ratio: { cpu: number; p50: number; p99: number }; overFloor?: number };
  portkey?: Side & { ratio: { cpu: number; p50: number; p99: number } };
  /**
   * Portkey on the same bare workerd (ours on a bare-workerd runtime only): `ratio` is ours / it,
   * `overFloor` it / the passthrough Worker (what a real gateway costs on this runtime).
   */
  portkeyWorkerd?: Side & { ratio: { cpu: number; p50: number; p99: number }; overFloor?: number };
}

const side = (cell: CellReport, cpu: number): Side => ({ cpu, p50: cell.latency.p50, p99: cell.latency.p99 });
const ratio = (a: Side, b: Side) => ({
  cpu: round(a.cpu / b.cpu, 2),
  p50: round(a.p50 / b.p50, 2),
  p99: round(a.p99 / b.p99, 2),
});

export function compareCell(
  endpoint: string,
  concurrency: number,
  ours: Array<{ runtime: string; cell: CellReport; cpu: number }>,
  peers: Participant[],
): Comparison[] {
  const of = (name: string) => peers.find((p) => p.name === name);
  return ours.map((o) => {
    const mine = side(o.cell, o.cpu);
    const floorName = fairFloor(o.runtime);
    const floor = floorName ? of(floorName) : undefined;
    const portkey = of('portkey');
    const out: Comparison = { endpoint, concurrency, runtime: o.runtime, ours: mine };
    if (floor && floorName) {
      const s = side(floor.cell, floor.cpuMsPerRequest);
      out.floor = { name: floorName, ...s, ratio: ratio(mine, s) };
    }
    const ioName = fairIoFloor(o.runtime);
    const io = ioName ? of(ioName) : undefined;
    if (io && ioName) {
      const s = side(io.cell, io.cpuMsPerRequest);
      out.ioFloor = { name: ioName, ...s, ratio: ratio(mine, s) };
      if (out.floor) out.ioFloor.overFloor = round(s.cpu / out.floor.cpu, 2);
    }
    if (portkey) {
      const s = side(portkey.cell, portkey.cpuMsPerRequest);
      out.portkey = { ...s, ratio: ratio(mine, s) };
    }
    const portkeyWorkerd = floorName === 'passthrough-workerd' ? of('portkey-workerd') : undefined;
    if (portkeyWorkerd) {
      const s = side(portkeyWorkerd.cell, portkeyWorkerd.cpuMsPerRequest);
      out.portkeyWorkerd = { ...s, ratio: ratio(mine, s) };
      if (out.floor) out.portkeyWorkerd.overFloor = round(s.cpu / out.floor.cpu, 2);
    }
    return out;
  });
}

const f = (v: number | undefined, digits = 2) =>
  v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);

/** The headline table: CPU ms/req of ours, its floors and Portkey (Node, bare workerd), and the ratios. */
export function comparisonTable(comparisons: Comparison[]): string {
  return formatTable(
    [
      'cell (cpu = process tree)',
      'c',
      'ours',
      'ours cpu ms/req',
      'floor cpu',
      'io floor cpu',
      'portkey cpu',
      'portkey-workerd cpu',
      'ours/floor',
      'ours/io floor',
      'io floor/floor',
      'ours/portkey',
      'ours/portkey-workerd',
      'portkey-workerd/floor',
      'p50 ours/floor/portkey',
      'p99 ours/portkey',
    ],
    comparisons.map((c) => [
      c.endpoint,
      String(c.concurrency),
      c.runtime,
      f(c.ours.cpu, 3),
      c.floor ? `${f(c.floor.cpu, 3)} (${c.floor.name.replace('passthrough-', '')})` : '-',
      f(c.ioFloor?.cpu, 3),
      f(c.portkey?.cpu, 3),
      f(c.portkeyWorkerd?.cpu, 3),
      c.floor ? `${f(c.floor.ratio.cpu)}x` : '-',
      c.ioFloor ? `${f(c.ioFloor.ratio.cpu)}x` : '-',
      c.ioFloor?.overFloor !== undefined ? `${f(c.ioFloor.overFloor)}x` : '-',
      c.portkey ? `${f(c.portkey.ratio.cpu)}x` : '-',
      c.portkeyWorkerd ? `${f(c.portkeyWorkerd.ratio.cpu)}x` : '-',
      c.portkeyWorkerd?.overFloor !== undefined ? `${f(c.portkeyWorkerd.overFloor)}x` : '-',
      `${f(c.ours.p50)}/${f(c.floor?.p50)}/${f(c.portkey?.p50)}`,
      `${f(c.ours.p99)}/${f(c.portkey?.p99)}`,
    ]),
  );
}

export interface MemoryReport {
  name: string;
  pids: number[];
  rssMiB: number;
  peakMiB: number;
  /** A Node server's own view (bench/lib/memory-report.mjs): heap used before and after a full GC. */
  heap?: NodeMemory;
}

/** What bench/lib/memory-report.mjs writes (MiB). */
export interface NodeMemory {
  before: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  after: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  mallocedMiB: number;
  spaces: Array<{ space: string; usedMiB: number; sizeMiB: number }>;
  /** process.getActiveResourcesInfo() by kind, once the load has stopped. */
  active?: Record<string, number>;
}

/**
 * Asks each Node server (SIGUSR2) for its memory before and after a full GC, written by
 * bench/lib/memory-report.mjs into `dir`; waits up to 5 s per process. Read after RSS, since the
 * GC it forces changes RSS.
 */
export async function readNodeMemory(pid: number, dir: string): Promise<NodeMemory | undefined> {
  const file = join(dir, `memory-${pid}.json`);
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return undefined;
  }
  for (const until = Date.now() + 5000; Date.now() < until; ) {
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as NodeMemory;
      } catch {
        // still being written
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

export function memoryTable(memory: MemoryReport[]): string {
  return formatTable(
    [
      'memory after the cells (server processes)',
      'RSS MiB',
      'peak RSS MiB',
      'heap used / total MiB',
      'after full GC: heap used / total',
      'external (of it ArrayBuffers)',
      'timers left',
    ],
    memory.map((m) => [
      m.name,
      f(m.rssMiB, 1),
      f(m.peakMiB, 1),
      m.heap ? `${f(m.heap.before.heapUsed, 1)} / ${f(m.heap.before.heapTotal, 1)}` : '-',
      m.heap ? `${f(m.heap.after.heapUsed, 1)} / ${f(m.heap.after.heapTotal, 1)}` : '-',
      m.heap ? `${f(m.heap.after.external, 1)} (${f(m.heap.after.arrayBuffers, 1)})` : '-',
      m.heap ? String(m.heap.active?.Timeout ?? 0) : '-',
    ]),
  );
}

export interface ColdStartReport {
  name: string;
  samplesMs: number[];
  medianMs: number;
  minMs: number;
}

export function coldStartTable(reports: ColdStartReport[]): string {
  return formatTable(
    ['process start → first chat answer', 'median ms', 'min ms', 'samples ms'],
    reports.map((r) => [r.name, f(r.medianMs, 1), f(r.minMs, 1), r.samplesMs.map((v) => f(v, 0)).join(' ')]),
  );
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
