/**
 * A value made on first use, then kept. For per-isolate state that is costly to build and not
 * needed by every request: made at module load, it is isolate start time paid by requests that
 * never touch it.
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
