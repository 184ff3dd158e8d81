/**
 * Closed-loop load at a fixed concurrency for a fixed time, warm-up excluded. Request/response
 * cells use autocannon (programmatically); its own histogram has 1 ms resolution, too coarse
 * for sub-millisecond overheads, so latencies are taken from its per-response `responseTime`
 * (hrtime, float ms) instead. Streams use stream-client.ts. Both read the watched processes'
 * CPU time at the start and the end of the measured window.
 */
import { treeCpuMs } from './cpu.ts';
import { Samples, type WindowResult } from './stats.ts';

export interface RequestSpec {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Streams: the text a complete stream ends with (default `data: [DONE]`, OpenAI's). */
  streamEnd?: string;
}

export interface WindowOptions {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  /** Process trees whose CPU time is read around the measured window, by label. */
  watch: Record<string, number | number[]>;
}

export function cpuSnapshot(watch: Record<string, number | number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [label, pids] of Object.entries(watch)) {
    out[label] = (Array.isArray(pids) ? pids : [pids]).reduce((sum, pid) => sum + treeCpuMs(pid), 0);
  }
  return out;
}

export function cpuDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const label of Object.keys(before)) out[label] = after[label]! - before[label]!;
  return out;
}

export async function runAutocannon(spec: RequestSpec, options: WindowOptions): Promise<WindowResult> {
  const { default: autocannon } = await import('autocannon');
  const latency = new Samples();
  const statuses: Record<string, number> = {};
  let measuring = false;
  let requests = 0;
  let errors = 0;
  let cpuBefore: Record<string, number> = {};
  let windowStart = 0;
  const instance = autocannon({
    url: spec.url,
    method: spec.method,
    headers: spec.headers ?? {},
    ...(spec.body === undefined ? {} : { body: spec.body }),
    connections: options.concurrency,
    pipelining: 1,
    // Stopped by the timer below; this is only a backstop.
    duration: Math.ceil((options.warmupMs + options.measureMs) / 1000) + 30,
    timeout: 10,
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (!measuring) return;
    requests++;
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) latency.push(responseTime);
    else errors++;
  });
  instance.on('reqError', () => {
    if (measuring) errors++;
  });
  const done = new Promise<void>((resolve) => instance.on('done', () => resolve()));
  await sleep(options.warmupMs);
  cpuBefore = cpuSnapshot(options.watch);
  windowStart = performance.now();
  measuring = true;
  await sleep(options.measureMs);
  measuring = false;
  const seconds = (performance.now() - windowStart) / 1000;
  const cpuMs = cpuDelta(cpuBefore, cpuSnapshot(options.watch));
  instance.stop();
  await done;
  return { requests, seconds, errors, statuses, latency, cpuMs };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
