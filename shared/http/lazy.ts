/**
 * A value made on first use, then kept. For per-isolate state that is costly to build and not
 * needed by every request: an `LRUCache` allocates its arrays for `max` entries up front, which
 * at module load is isolate start time paid by requests that never touch the cache.
 */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}
