/**
 * A time limit on a piece of work, as an AbortSignal: a timer on an AbortController, linked to a
 * parent signal (the caller's), cleared the moment the work ends. Nothing outlives the work: an
 * `AbortSignal.timeout(ms)` inside `AbortSignal.any()` keeps both signals, and whatever their
 * listeners reference, alive until the timer fires, which under load is a minute of requests on
 * the heap.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** True once the timer fired (not when the parent aborted). */
  readonly timedOut: boolean;
  /** Stops the timer but keeps following the parent: a stream that has started keeps its caller. */
  stopTimer(): void;
  /** Stops the timer and lets go of the parent. Safe to call more than once. */
  dispose(): void;
  /** Ends the work now, for a reason of our own (e.g. a stream gone quiet). */
  abort(reason?: unknown): void;
}

/** `ms` may be Infinity: then it only follows the parent (and `abort`). */
export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else {
    parent?.addEventListener('abort', onParentAbort, { once: true });
    if (Number.isFinite(ms))
      timer = setTimeout(
        () => {
          timedOut = true;
          controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError'));
        },
        Math.max(0, ms),
      );
  }
  const stopTimer = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    stopTimer,
    dispose() {
      stopTimer();
      parent?.removeEventListener('abort', onParentAbort);
    },
    abort(reason) {
      stopTimer();
      controller.abort(reason);
    },
  };
}

/**
 * `promise`, or `onTimeout()` thrown if it takes longer than `ms` (the timer is cleared either
 * way). For per-read idle limits, where the caller cancels what it was waiting on.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
