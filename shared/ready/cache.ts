/**
 * The last readiness answer per configuration (the env object, which settings are parsed once
 * per), reused for `ttlMs` after it completed; callers arriving while a check runs share it. So
 * a flood of unauthenticated /ready calls costs one round of checks per isolate per `ttlMs`.
 */
const entries = new WeakMap<object, { answer: Promise<unknown>; doneAt?: number }>();

export function cachedCheck<T>(
  key: object,
  ttlMs: number,
  run: () => Promise<T>,
  now = Date.now(),
): Promise<T> {
  const entry = entries.get(key);
  if (entry && (entry.doneAt === undefined || now - entry.doneAt < ttlMs)) return entry.answer as Promise<T>;
  const fresh: { answer: Promise<T>; doneAt?: number } = { answer: run() };
  entries.set(key, fresh);
  fresh.answer.then(
    () => {
      fresh.doneAt = Date.now();
    },
    // A check that threw is not an answer to keep.
    () => {
      if (entries.get(key) === fresh) entries.delete(key);
    },
  );
  return fresh.answer;
}
