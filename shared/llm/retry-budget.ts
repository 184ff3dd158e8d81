import { SlidingWindow } from './sliding-window.ts';

export interface RetryBudgetPolicy {
  /** Retries allowed as a share of the requests in the window (0.2 = one retry per 5 requests). */
  ratio: number;
  /** Retries allowed in the window whatever the traffic, so a quiet gateway can still retry. */
  min_retries: number;
  window_ms: number;
}

const windows = new Map<string, SlidingWindow>();
const OVERALL = '*';

function windowFor(key: string, policy: RetryBudgetPolicy): SlidingWindow {
  let w = windows.get(key);
  if (!w) {
    w = new SlidingWindow(policy.window_ms, 10);
    windows.set(key, w);
  }
  return w;
}

/**
 * Finagle's and Envoy's retry budget, per isolate: retries within the window stay under
 * `min_retries + ratio * requests`, per model and over every model together. When an upstream
 * fails hard, every request wants its retries; the budget turns that into a bounded extra load
 * (about `ratio`), so retries help with blips without multiplying an outage.
 */
export const retryBudget = {
  /** A first attempt on `key` (a model): it earns the budget its share. */
  request(key: string, policy: RetryBudgetPolicy, now = Date.now()): void {
    windowFor(key, policy).add(now, 1, 0);
    windowFor(OVERALL, policy).add(now, 1, 0);
  },
  /** Takes one retry from the budget of `key` and the overall one; false when either is spent. */
  tryRetry(key: string, policy: RetryBudgetPolicy, now = Date.now()): boolean {
    const model = windowFor(key, policy);
    const overall = windowFor(OVERALL, policy);
    for (const w of [model, overall]) {
      const { a: requests, b: retries } = w.totals(now);
      if (retries + 1 > policy.min_retries + policy.ratio * requests) return false;
    }
    model.add(now, 0, 1);
    overall.add(now, 0, 1);
    return true;
  },
  /** Test hook. */
  reset(): void {
    windows.clear();
  },
};
