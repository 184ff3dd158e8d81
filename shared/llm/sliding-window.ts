/**
 * Counts over the last `windowMs`, kept in `buckets` slots: a slot older than the window is
 * reused (and zeroed) when time comes back round to it, so memory is fixed and nothing needs a
 * timer. Used for the circuit breaker's calls/failures and the retry budget's requests/retries.
 */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly index: number[];
  private readonly a: number[];
  private readonly b: number[];

  constructor(windowMs: number, buckets: number) {
    this.bucketMs = Math.max(1, Math.floor(windowMs / buckets));
    this.index = new Array<number>(buckets).fill(-1);
    this.a = new Array<number>(buckets).fill(0);
    this.b = new Array<number>(buckets).fill(0);
  }

  bucketOf(now: number): number {
    return Math.floor(now / this.bucketMs);
  }

  /** Adds to the two counters of the current bucket. */
  add(now: number, a: number, b = 0): void {
    const bucket = this.bucketOf(now);
    const slot = bucket % this.index.length;
    if (this.index[slot] !== bucket) {
      this.index[slot] = bucket;
      this.a[slot] = 0;
      this.b[slot] = 0;
    }
    this.a[slot]! += a;
    this.b[slot]! += b;
  }

  /** Sums of both counters over the buckets still inside the window. */
  totals(now: number): { a: number; b: number } {
    const current = this.bucketOf(now);
    let a = 0;
    let b = 0;
    for (let slot = 0; slot < this.index.length; slot++) {
      const bucket = this.index[slot]!;
      if (bucket > current - this.index.length && bucket <= current) {
        a += this.a[slot]!;
        b += this.b[slot]!;
      }
    }
    return { a, b };
  }

  /** The bucket numbers inside the window, oldest first (to name the shared counters in Redis). */
  bucketsAt(now: number): number[] {
    const current = this.bucketOf(now);
    return Array.from({ length: this.index.length }, (_, i) => current - this.index.length + 1 + i);
  }

  clear(): void {
    this.index.fill(-1);
  }
}
