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

/**
 * `ms` may be Infinity: then it only follows the parent (and `abort`). Several parents: it ends
 * when the first of them aborts (what `AbortSignal.any` does, without keeping them all alive).
 */
export function deadline(ms: number, parent?: AbortSignal | readonly (AbortSignal | undefined)[]): Deadline {
  return new Limit(ms, parent === undefined || Array.isArray(parent) ? parent : [parent as AbortSignal]);
}

/**
 * One object per deadline, its own parent listener (`handleEvent`) and its timer's argument: every
 * upstream attempt makes one, so no closures are made per attempt (issue #23: the closures and
 * arrays of the earlier form were about a third of the deadline's own CPU on workerd; the rest is
 * the runtime's AbortController, listener and timer, which the deadline needs).
 */
class Limit implements Deadline {
  readonly signal: AbortSignal;
  timedOut = false;
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private parents: readonly (AbortSignal | undefined)[] | undefined;

  constructor(ms: number, parents: readonly (AbortSignal | undefined)[] | undefined) {
    this.signal = this.controller.signal;
    if (parents) {
      for (const p of parents) {
        if (p?.aborted) {
          this.controller.abort(p.reason);
          return;
        }
      }
      this.parents = parents;
      for (const p of parents) p?.addEventListener('abort', this, { once: true });
    }
    if (Number.isFinite(ms)) this.timer = setTimeout(fire, Math.max(0, ms), this, ms);
  }

  /** A parent aborted: so does this, with its reason. */
  handleEvent(event: Event): void {
    this.controller.abort((event.target as AbortSignal).reason);
  }

  /** The timer fired. */
  expire(ms: number): void {
    this.timer = undefined;
    this.timedOut = true;
    this.controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError'));
  }

  stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.stopTimer();
    const parents = this.parents;
    if (!parents) return;
    this.parents = undefined;
    for (const p of parents) p?.removeEventListener('abort', this);
  }

  abort(reason?: unknown): void {
    this.stopTimer();
    this.controller.abort(reason);
  }
}

function fire(limit: Limit, ms: number): void {
  limit.expire(ms);
}

/** A time limit on one call that only ends: no `stopTimer`, no `abort` of our own. */
export type CallLimit = Pick<Deadline, 'signal' | 'timedOut' | 'dispose'>;

/**
 * On workerd a request's timers end with its IoContext: one that has not fired when the request
 * (and its `waitUntil` work) is over is dropped with it, never fired and never kept, so the Node
 * leak above cannot happen there (measured: a 1.5 s `AbortSignal.timeout` set by a request answered
 * at once never fires). There the runtime's own `AbortSignal.timeout`, followed by
 * `AbortSignal.any`, makes the limit without an AbortController, a JavaScript listener on the
 * caller's signal, nodejs_compat's `Timeout` wrapper or a `clearTimeout` call (issue #23: the
 * router's per-attempt deadline was ~6 % of a chat request's isolate samples on bare workerd).
 */
const onWorkerd =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';

/**
 * `deadline` for work that ends and is never stopped early: the runtime's timer on workerd (see
 * above), a `deadline` elsewhere (Node, where an armed timer outlives its request). `ms` may be
 * Infinity (then it is a `deadline` everywhere).
 */
export function callLimit(
  ms: number,
  parent?: AbortSignal | readonly (AbortSignal | undefined)[],
): CallLimit {
  if (!onWorkerd || !Number.isFinite(ms)) return deadline(ms, parent);
  return new RequestTimer(ms, parent);
}

/** workerd only: the request's own timer, ended with it (nothing to clear or let go of). */
class RequestTimer implements CallLimit {
  readonly signal: AbortSignal;
  private readonly timer: AbortSignal;

  constructor(ms: number, parent: AbortSignal | readonly (AbortSignal | undefined)[] | undefined) {
    this.timer = AbortSignal.timeout(Math.max(0, ms));
    if (parent === undefined) this.signal = this.timer;
    else if (Array.isArray(parent)) {
      const signals: AbortSignal[] = [this.timer];
      for (const p of parent as readonly (AbortSignal | undefined)[]) if (p) signals.push(p);
      this.signal = AbortSignal.any(signals);
    } else this.signal = AbortSignal.any([this.timer, parent as AbortSignal]);
  }

  /** The timer ended it (not a parent, which `any` would have followed first). */
  get timedOut(): boolean {
    return this.signal.aborted && this.signal.reason === this.timer.reason;
  }

  dispose(): void {}
}

/**
 * `deadline` for work that lives at most as long as its request and may stop its timer early (a
 * stream's attempt: its timer stops at the first chunk, its link to the caller holds until the
 * stream ends): on workerd the runtime's timer, left to fire into nothing once stopped, and
 * `AbortSignal.any` for the link, both ended with the request (see `callLimit`); a `deadline`
 * elsewhere. Saves a `clearTimeout`, a `removeEventListener` and nodejs_compat's `Timeout` wrapper.
 */
export function requestDeadline(ms: number, parent?: AbortSignal): Deadline {
  if (!onWorkerd || !Number.isFinite(ms)) return deadline(ms, parent);
  return new RequestStopwatch(ms, parent);
}

/** workerd only: a stoppable limit on the request's own timer and signal. */
class RequestStopwatch implements Deadline {
  readonly signal: AbortSignal;
  timedOut = false;
  private readonly controller = new AbortController();
  private stopped = false;
  private readonly ms: number;

  constructor(ms: number, parent: AbortSignal | undefined) {
    this.ms = ms;
    AbortSignal.timeout(Math.max(0, ms)).addEventListener('abort', this, { once: true });
    this.signal = parent ? AbortSignal.any([this.controller.signal, parent]) : this.controller.signal;
  }

  /** The timer fired: ends the work unless stopped, with the reason `deadline` gives. */
  handleEvent(): void {
    if (this.stopped || this.signal.aborted) return;
    this.timedOut = true;
    this.controller.abort(new DOMException(`timed out after ${this.ms} ms`, 'TimeoutError'));
  }

  stopTimer(): void {
    this.stopped = true;
  }

  dispose(): void {
    this.stopped = true;
  }

  abort(reason?: unknown): void {
    this.stopped = true;
    this.controller.abort(reason);
  }
}

/**
 * Runs `fn` with a deadline's signal and disposes it the moment `fn` settles: the per-command and
 * per-fetch form (read the body inside `fn`, so the limit covers it). A `callLimit`: on Node an
 * `AbortSignal.timeout(ms)` in its place would stay armed, with all it references, until `ms` passed.
 * On workerd nothing is cleared: the signal still aborts `ms` after the start if the request lasts
 * that long, so nothing may go on using it once `fn` has settled (a body read later would be cut).
 */
export async function withDeadline<T>(
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal | readonly (AbortSignal | undefined)[],
): Promise<T> {
  const limit = callLimit(ms, parent);
  try {
    return await fn(limit.signal);
  } finally {
    limit.dispose();
  }
}

/**
 * A limit on silence: `onIdle` runs once nothing `touch`ed it for `ms`. It may answer `false`
 * (the quiet was ours, e.g. a slow reader downstream, not the upstream's): then it watches on.
 */
export interface IdleTimer {
  /** Something arrived: the quiet time starts again. Costs a clock read, no timer. */
  touch(): void;
  /** Clears the timer. Safe to call more than once. */
  dispose(): void;
}

/**
 * One timer for a whole stream, not one per chunk: when it fires it looks at the last `touch` and,
 * if the stream was not quiet for `ms`, re-arms for the rest. A chunk costs a `Date.now()` instead
 * of a setTimeout/clearTimeout pair and a promise race. `ms` may be Infinity: no timer at all.
 */
export function idleTimer(ms: number, onIdle: () => unknown): IdleTimer {
  if (onWorkerd && Number.isFinite(ms)) return new RequestIdleTimer(ms, onIdle);
  let last = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const quiet = Date.now() - last;
    if (quiet < ms) timer = setTimeout(check, ms - quiet);
    else if (onIdle() === false) {
      last = Date.now();
      timer = setTimeout(check, ms);
    } else timer = undefined;
  };
  if (Number.isFinite(ms)) timer = setTimeout(check, Math.max(0, ms));
  return {
    touch() {
      last = Date.now();
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * workerd only: `idleTimer` on the runtime's own timer (`AbortSignal.timeout`), which is dropped
 * with the request if it has not fired (see `callLimit`): a stream lives within its request, so
 * nothing is cleared at its end. Saves nodejs_compat's `Timeout` wrapper on `setTimeout` and the
 * `clearTimeout` at every stream's end (issue #23: the idle timer's pair was the isolate's
 * `internal_timers` samples of a stream on bare workerd, 3.8 % of them against chat's 0.7 %).
 * Once disposed, a timer that fires does nothing.
 */
class RequestIdleTimer implements IdleTimer {
  private last = Date.now();
  private done = false;
  private readonly ms: number;
  private readonly onIdle: () => unknown;

  constructor(ms: number, onIdle: () => unknown) {
    this.ms = ms;
    this.onIdle = onIdle;
    this.arm(ms);
  }

  private arm(ms: number): void {
    AbortSignal.timeout(Math.max(0, ms)).addEventListener('abort', this, { once: true });
  }

  /** The timer fired: the same check as `idleTimer`'s. */
  handleEvent(): void {
    if (this.done) return;
    const quiet = Date.now() - this.last;
    if (quiet < this.ms) this.arm(this.ms - quiet);
    else if (this.onIdle() === false) {
      this.last = Date.now();
      this.arm(this.ms);
    } else this.done = true;
  }

  touch(): void {
    this.last = Date.now();
  }

  dispose(): void {
    this.done = true;
  }
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
