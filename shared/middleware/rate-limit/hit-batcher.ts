/**
 * Hits let through far from the limit, counted per isolate and key and sent as one command
 * adding n (one Redis round trip per key every `flushMs`, not one per request).
 *
 * Every caller of `add` gets the promise of the flush that carries its hit, to hand to its own
 * `waitUntil`: the runtime keeps the isolate alive until that flush is done, so hits pending when
 * the isolate serves its last request are still sent. The timer belongs to the batch, not to a
 * request, and is cleared when the batch is sent early.
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
  add(key: string, flushAt: number, flushMs: number, send: (hits: number) => Promise<void>): Promise<void> {
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
      const due = b.due;
      if (b.hits >= flushAt) b.sendNow?.();
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
