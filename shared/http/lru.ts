import QuickLRU from 'quick-lru';

/**
 * A per-isolate cache holding at most `max` entries, least recently used out. quick-lru is
 * about 1 KiB gzip where lru-cache was about 6 in every bundle, and allocates nothing up front.
 * It keeps between `maxSize` and twice that (two generations of entries, swapped when the newer
 * one fills), so `maxSize` is half the bound.
 */
export function boundedCache<K, V>(max: number): QuickLRU<K, V> {
  return new QuickLRU<K, V>({ maxSize: Math.max(1, Math.floor(max / 2)) });
}
