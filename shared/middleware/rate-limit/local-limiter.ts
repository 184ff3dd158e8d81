/**
 * Per-isolate sliding-window limiter (two fixed windows, weighted), used when Redis is absent or
 * failing: a limit per isolate is weaker than a shared one, but never unlimited.
 */
export class LocalLimiter {
  private readonly windows = new Map<string, { start: number; count: number; prev: number }>();

  private readonly limit: number;
  private readonly windowMs: number;
  constructor(limit: number, windowMs: number) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  take(key: string, now = Date.now()): { success: boolean; remaining: number; reset: number } {
    const start = now - (now % this.windowMs);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      const prev = w && w.start === start - this.windowMs ? w.count : 0;
      w = { start, count: 0, prev };
      if (this.windows.size > 50_000) this.windows.clear();
      this.windows.set(key, w);
    }
    const weight = 1 - (now - start) / this.windowMs;
    const used = w.count + Math.floor(w.prev * weight);
    const reset = start + this.windowMs;
    if (used >= this.limit) return { success: false, remaining: 0, reset };
    w.count++;
    return { success: true, remaining: this.limit - used - 1, reset };
  }
}
