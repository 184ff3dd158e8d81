/** Latency samples in ms (float, from hrtime) and their summary. */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export class Samples {
  private data = new Float64Array(1024);
  length = 0;

  push(ms: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = ms;
  }

  summary(): Summary {
    const sorted = this.data.slice(0, this.length).sort();
    const n = sorted.length;
    const at = (q: number) => (n ? sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]! : Number.NaN);
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      n,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: n ? sorted[n - 1]! : Number.NaN,
      mean: n ? sum / n : Number.NaN,
    };
  }
}

/** What one measured window of one cell gives. */
export interface WindowResult {
  /** Responses completed in the measured window (warm-up excluded). */
  requests: number;
  seconds: number;
  /** Socket errors, timeouts and non-2xx responses in the window. */
  errors: number;
  statuses: Record<string, number>;
  latency: Samples;
  /** Streams only: time to the first body byte. */
  ttfb?: Samples;
  /** CPU ms of each watched process tree during the window. */
  cpuMs: Record<string, number>;
}

export function mergeWindows(windows: WindowResult[]): WindowResult {
  const out: WindowResult = {
    requests: 0,
    seconds: 0,
    errors: 0,
    statuses: {},
    latency: new Samples(),
    cpuMs: {},
  };
  for (const w of windows) {
    out.requests += w.requests;
    out.seconds += w.seconds;
    out.errors += w.errors;
    for (const [k, v] of Object.entries(w.statuses)) out.statuses[k] = (out.statuses[k] ?? 0) + v;
    appendSamples(out.latency, w.latency);
    if (w.ttfb) {
      out.ttfb ??= new Samples();
      appendSamples(out.ttfb, w.ttfb);
    }
    for (const [k, v] of Object.entries(w.cpuMs)) out.cpuMs[k] = (out.cpuMs[k] ?? 0) + v;
  }
  return out;
}

function appendSamples(into: Samples, from: Samples): void {
  const s = from as unknown as { data: Float64Array };
  for (let i = 0; i < from.length; i++) into.push(s.data[i]!);
}
