/**
 * Hits let through far from the limit, counted per isolate and key and sent as one command
 * adding n (one Redis round trip per key every `flushMs`, not one per request).
 *
 * The caller whose `add` starts the batch's timer, or sends the batch, gets the promise of that
 * flush, to hand to its own `waitUntil`: workerd binds a timer and a fetch to the request that
 * made them, so that request's `waitUntil` is what keeps them alive, and hits pending when the
 * isolate serves its last request are still sent. A caller that only joins a waiting batch gets
 * nothing to hold: the same promise in its `waitUntil` would keep nothing alive, and each
 * `waitUntil` is a crossing into the runtime. The timer is cleared when the batch is sent early.
 */
interface Batch {
  hits: number;
  lastFlush: number;
  due?: Promise<void>;
  sendNow?: () => void;
}

export class HitBatcher {
  private readonly batches = new Map<string, Batch>();

  /**
   * Counts one hit for `key`; sends the batch at once when it reaches `flushAt` hits or the last
   * flush is `flushMs` old (0: always), else when it will be. `send` gets the number of hits.
   */
  add(
    key: string,
    flushAt: number,
    flushMs: number,
    send: (hits: number) => Promise<void>,
  ): Promise<void> | undefined {
    let batch = this.batches.get(key);
    if (!batch) {
      // Bounded like any per-isolate cache; a batch dropped here is still sent by its own timer.
      if (this.batches.size >= 10_000) this.batches.clear();
      batch = { hits: 0, lastFlush: 0 };
      this.batches.set(key, batch);
    }
    const b = batch;
    b.hits += 1;
    if (b.due) {
      if (b.hits < flushAt) return undefined;
      // This caller sends the batch (its fetch is this request's I/O): it holds the flush.
      const due = b.due;
      b.sendNow?.();
      return due;
    }
    let resolve!: (flushed: Promise<void>) => void;
    const due = new Promise<void>((r) => {
      resolve = r;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sendNow = () => {
      if (timer !== undefined) clearTimeout(timer);
      if (b.due !== due) return;
      b.due = undefined;
      b.sendNow = undefined;
      const hits = b.hits;
      b.hits = 0;
      b.lastFlush = Date.now();
      resolve(hits ? send(hits) : Promise.resolve());
    };
    b.due = due;
    b.sendNow = sendNow;
    const wait = b.lastFlush + flushMs - Date.now();
    if (wait <= 0 || b.hits >= flushAt) sendNow();
    else timer = setTimeout(sendNow, wait);
    return due;
  }

  /** Hits counted but not sent yet (sent since by nobody else). */
  pending(key: string): number {
    return this.batches.get(key)?.hits ?? 0;
  }

  /** Takes the unsent hits of `key`, for a caller that sends them itself. */
  take(key: string): number {
    const batch = this.batches.get(key);
    if (!batch) return 0;
    const hits = batch.hits;
    batch.hits = 0;
    return hits;
  }
}
