/**
 * PGlite is one Postgres session; `@electric-sql/pglite-socket` multiplexes client connections
 * onto it message by message, keeping a client's messages together only inside a transaction.
 * Extended-protocol queries (Parse, Bind, Execute... Sync) from two clients can then interleave
 * on the one session, binding one client's parameters to another's statement. This makes a
 * client's messages sticky until its batch ends (Sync, simple Query, Terminate), as well as
 * inside a transaction, so each client's round trip runs as a unit.
 */

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(err: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueueManagerLike {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  db: {
    isInTransaction(): boolean;
    runExclusive<T>(fn: () => Promise<T>): Promise<T>;
    execProtocolRawStream(message: Uint8Array, options: { onRawData(data: Uint8Array): void }): Promise<void>;
  };
  processQueue(): Promise<void>;
  clearQueueForHandler(handlerId: number): void;
}

/** Message types after which a client's batch is complete (the server answers ReadyForQuery). */
const BATCH_END = new Set(['S'.charCodeAt(0), 'Q'.charCodeAt(0), 'X'.charCodeAt(0)]);

export function makeClientBatchesAtomic(server: object): void {
  const queue = (server as { queryQueue?: QueueManagerLike }).queryQueue;
  if (!queue || typeof queue.processQueue !== 'function') {
    throw new Error('pglite-socket internals changed: cannot make client batches atomic');
  }
  let sticky: number | null = null;

  queue.processQueue = async function processQueue(this: QueueManagerLike): Promise<void> {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const owner = sticky ?? (this.db.isInTransaction() ? this.lastHandlerId : null);
        const index = owner === null ? 0 : this.queue.findIndex((m) => m.handlerId === owner);
        // The owner's next message has not arrived yet: wait for it (its enqueue restarts us).
        if (index === -1) break;
        const [item] = this.queue.splice(index, 1) as [QueuedMessage];
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          sticky = null;
          item.reject(err);
          continue;
        }
        const type = item.message[0] ?? 0;
        // A startup or SSL message (first byte 0: a length) stands alone, like a batch end.
        sticky = type === 0 || BATCH_END.has(type) ? null : item.handlerId;
        this.lastHandlerId = item.handlerId;
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };

  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handlerId: number) => {
    if (sticky === handlerId) sticky = null;
    clear(handlerId);
    // Messages of others may have waited behind the departed client.
    void queue.processQueue();
  };
}
