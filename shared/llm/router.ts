import { AppError, type ErrorType } from '../errors/index.ts';
import type { Logger } from '../log/logger.ts';
import { llmRequestsTotal } from '../metrics/registry.ts';
import { redactString } from '../redact/index.ts';
import { backoffDelay, retryAfterSeconds, sleep as sleepFor } from '../resilience/backoff.ts';
import { callLimit, requestDeadline } from '../resilience/deadline.ts';
import { callSeries } from './call-metrics.ts';
import type { Background, CircuitBreaker } from './circuit-breaker.ts';
import type { ModelsConfig } from './models-schema.ts';
import { ProviderError } from './provider-error.ts';
import type { ChatChunk, ChatCompletion, ChatRequest } from './providers/types.ts';
import type { ResolvedModel, ResolvedTarget } from './registry.ts';
import { retryBudget } from './retry-budget.ts';

export interface RouteContext {
  target: ResolvedTarget;
  policy: ModelsConfig['policy'];
  breaker: CircuitBreaker;
  /** The request's `waitUntil`: what the breaker starts for this request runs on under it. */
  background?: Background;
  log: Logger;
  /** Aborted when the caller goes away: the upstream call is aborted with it. */
  signal: AbortSignal;
  headers: () => Record<string, string>;
  sleep?: (ms: number) => Promise<void>;
  /**
   * The attempt resolves once the stream is open (its first chunk read): the per-attempt timeout
   * stops there, and the provider times each later chunk instead. The caller's abort still
   * reaches the upstream for the whole stream.
   */
  streaming?: boolean;
}

export interface Routed<T> {
  result: T;
  model: ResolvedModel;
  attempts: number;
  /** Time spent waiting on upstreams, every attempt included (for streams: until the first chunk). */
  upstreamMs: number;
  /**
   * Lets go of the attempt's link to the caller's signal. A stream keeps it (so a caller who
   * leaves still aborts the upstream) until its writer calls this, however the stream ends;
   * a plain call has already let go, and this does nothing. Safe to call more than once. It
   * also does what `opened` does, if that has not run.
   */
  dispose(): void;
  /**
   * A stream's first chunk has been handed over: the attempt's success is counted now (its
   * duration, `llm_requests_total{status="ok"}`, the circuit's window), off the first byte's path.
   * A plain call, or a stream whose attempt was the circuit's probe, was counted before it
   * returned, and this does nothing. Safe to call more than once.
   */
  opened(): void;
}

const nothingToDispose = (): void => undefined;

/** `provider:model`: the circuit, cool-down and retry budget of one model. */
export const circuitKey = (model: ResolvedModel) => `${model.providerId}:${model.model.id}`;

interface Walk {
  attempts: number;
  upstreamMs: number;
  skipped: string[];
  /** The last model an attempt went to, and how it failed. */
  lastModel?: ResolvedModel;
  lastError?: ProviderError;
  /** Earliest moment (ms from now) a model skipped as open or rate limited can be tried again. */
  soonestMs?: number;
  skippedCooling: boolean;
  skippedOpen: boolean;
  /** A context too long for this window: only larger windows are worth trying. */
  minContext: number;
}

/**
 * Walks the chain. Each model: skipped without a credential, with an open circuit, while an
 * upstream 429 cools it down, or when a context was too long for a window at least as large.
 * Each attempt has its provider's `timeout_ms` (within what is left of `deadline_ms`). Retryable
 * failures (network, timeout, 408, 409, 429, 5xx) retry with full-jitter backoff or the
 * upstream's Retry-After, within `retries` and the retry budget; then the next model. A caller's
 * 4xx is returned at once, as the upstream sent it. A caller who leaves cancels the attempt.
 * Every answer, error or not, names the last model tried and the attempts made.
 */
export async function routeCall<T>(
  ctx: RouteContext,
  call: (model: ResolvedModel, signal: AbortSignal) => Promise<T>,
): Promise<Routed<T>> {
  const { policy } = ctx;
  const deadlineAt = Date.now() + policy.deadline_ms;
  const sleep = ctx.sleep ?? ((ms: number) => sleepFor(ms, ctx.signal));
  const walk: Walk = {
    attempts: 0,
    upstreamMs: 0,
    skipped: [],
    skippedCooling: false,
    skippedOpen: false,
    minContext: 0,
  };
  for (const model of ctx.target.chain) {
    if (model.unavailable) {
      walk.skipped.push(`${model.model.id}: ${model.unavailable}`);
      continue;
    }
    if (model.model.context_window <= walk.minContext) {
      walk.skipped.push(`${model.model.id}: context window no larger`);
      continue;
    }
    const key = circuitKey(model);
    for (let retry = 0; ; retry++) {
      const remaining = deadlineAt - Date.now();
      if (remaining <= 0) throw withRouteHeaders(deadlineError(walk, policy.deadline_ms), walk);
      const timeoutMs = Math.min(model.provider.timeout_ms, remaining);
      const admission = await ctx.breaker.admit(key, timeoutMs, ctx.background);
      if (!admission.allowed) {
        const cooling = admission.reason === 'cooling';
        walk.skipped.push(`${model.model.id}: ${cooling ? 'rate limited upstream' : 'circuit open'}`);
        if (cooling) walk.skippedCooling = true;
        else walk.skippedOpen = true;
        walk.soonestMs = Math.min(walk.soonestMs ?? Number.POSITIVE_INFINITY, admission.retryAfterMs);
        break;
      }
      const { permit } = admission;
      if (retry === 0) retryBudget.request(key, policy.retry_budget);
      walk.attempts++;
      walk.lastModel = model;
      const series = callSeries(model, ctx.target.role);
      // A stream's attempt stops its timer at the first chunk; a plain call's only ends.
      const streamLimit = ctx.streaming ? requestDeadline(timeoutMs, ctx.signal) : undefined;
      const attempt = streamLimit ?? callLimit(timeoutMs, ctx.signal);
      const started = performance.now();
      try {
        const result = await call(model, attempt.signal);
        const elapsed = performance.now() - started;
        walk.upstreamMs += elapsed;
        const count = () => {
          series.duration.observe(elapsed / 1000);
          series.ok.inc();
          return permit.success();
        };
        const routed = { result, model, attempts: walk.attempts, upstreamMs: walk.upstreamMs };
        if (!streamLimit) {
          attempt.dispose();
          await count();
          return { ...routed, dispose: nothingToDispose, opened: nothingToDispose };
        }
        streamLimit.stopTimer();
        // A probe's success closes the circuit for every caller: counted at once. Any other
        // waits for the stream's first chunk to be handed over (or the stream to end).
        let uncounted = !permit.probe;
        if (permit.probe) await count();
        const opened = () => {
          if (!uncounted) return;
          uncounted = false;
          count().catch(() => undefined);
        };
        return {
          ...routed,
          opened,
          dispose: () => {
            opened();
            attempt.dispose();
          },
        };
      } catch (err) {
        attempt.dispose();
        const elapsed = performance.now() - started;
        walk.upstreamMs += elapsed;
        series.duration.observe(elapsed / 1000);
        const labels = { provider: model.providerId, model: model.model.id, role: ctx.target.role };
        if (ctx.signal.aborted) {
          // The caller left: not the upstream's fault, and nothing to retry for.
          llmRequestsTotal.inc({ ...labels, status: 'cancelled' });
          await permit.release();
          throw cancelled(walk);
        }
        const error = err instanceof ProviderError ? err : timeoutOrUnknown(model, err, attempt.timedOut);
        llmRequestsTotal.inc({ ...labels, status: error.status ? String(error.status) : error.code });
        ctx.log.warn('llm attempt failed', {
          provider: model.providerId,
          model: model.model.id,
          attempt: walk.attempts,
          status: error.status ?? null,
          code: error.code,
          retryable: error.retryable,
        });
        walk.lastError = error;
        const coolDown = error.status === 429 && error.retryAfterMs !== undefined;
        if (coolDown) {
          // The upstream said when it has room again: a cool-down, not a sign it is broken.
          await ctx.breaker.coolDown(key, error.retryAfterMs!);
          await permit.release();
        } else if (error.retryable) await permit.failure();
        else await permit.release();
        if (!error.retryable) {
          if (error.code === 'context_length_exceeded') {
            walk.minContext = Math.max(walk.minContext, model.model.context_window);
            break;
          }
          if (error.fallback) break;
          throw withRouteHeaders(callerError(error), walk);
        }
        // A failed probe has just reopened the circuit.
        if (permit.probe || retry >= policy.retries) break;
        // A long Retry-After is better spent on the next model.
        if (coolDown && error.retryAfterMs! > policy.retry_after_cap_ms) break;
        const wait = backoffDelay(policy.backoff, retry, error.retryAfterMs);
        if (Date.now() + wait >= deadlineAt) break;
        if (!retryBudget.tryRetry(key, policy.retry_budget)) {
          walk.skipped.push(`${model.model.id}: retry budget spent`);
          break;
        }
        try {
          await sleep(wait);
        } catch {
          throw cancelled(walk);
        }
      }
    }
  }
  throw withRouteHeaders(exhausted(walk), walk);
}

function timeoutOrUnknown(model: ResolvedModel, err: unknown, timedOut: boolean): ProviderError {
  if (timedOut) {
    return new ProviderError(model.providerId, 'upstream timed out', {
      code: 'upstream_timeout',
      cause: err,
    });
  }
  return new ProviderError(model.providerId, 'upstream failed', { cause: err });
}

/** The upstream's own 4xx, status, message, type, code and param as it sent them. */
function callerError(error: ProviderError): AppError {
  const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 400;
  const upstream = error.upstream;
  const message = upstream?.message ?? error.message;
  const code = upstream?.code ?? (error.code === `upstream_${status}` ? 'invalid_request' : error.code);
  return new AppError(status, code, redactString(message).value, {
    ...(upstream?.type ? { type: upstream.type as ErrorType } : {}),
    param: upstream?.param ?? null,
    cause: error,
  });
}

function cancelled(walk: Walk): AppError {
  return withRouteHeaders(new AppError(499, 'client_closed_request', 'The client closed the request.'), walk);
}

function deadlineError(walk: Walk, deadlineMs: number): AppError {
  return new AppError(
    504,
    'upstream_timeout',
    `No model answered within the ${deadlineMs} ms deadline (${walk.attempts} attempts).`,
  );
}

function exhausted(walk: Walk): AppError {
  const last = walk.lastError;
  const tried = walk.skipped.length ? ` Skipped: ${walk.skipped.join('; ')}.` : '';
  const retryAfter = (ms: number | undefined): Record<string, string> =>
    ms === undefined ? {} : { 'retry-after': retryAfterSeconds(ms) };
  // Nothing would help but another model with a larger window, and there was none.
  if (last?.code === 'context_length_exceeded') return callerError(last);
  const rateLimited = last?.status === 429 || (!last && walk.skippedCooling);
  if (rateLimited) {
    const ms = Math.min(
      last?.retryAfterMs ?? Number.POSITIVE_INFINITY,
      walk.soonestMs ?? Number.POSITIVE_INFINITY,
    );
    return new AppError(
      429,
      'rate_limit_exceeded',
      `Rate limited by the upstream${last ? ` (${last.provider})` : ''}; retry after the time given.${tried}`,
      { headers: retryAfter(Number.isFinite(ms) ? ms : 1000) },
    );
  }
  if (!last) {
    if (walk.skippedOpen) {
      return new AppError(
        503,
        'circuit_open',
        `Every model in the chain is failing upstream right now.${tried}`,
        {
          headers: retryAfter(walk.soonestMs),
        },
      );
    }
    return new AppError(503, 'no_model_available', `No model in the chain could be called.${tried}`);
  }
  const timeout = last.code === 'upstream_timeout';
  return new AppError(
    timeout ? 504 : 502,
    timeout ? 'upstream_timeout' : 'upstream_error',
    `All models failed after ${walk.attempts} attempts; last: ${last.provider} ${last.status ?? last.code}: ${redactString(last.message).value}.${tried}`,
    { cause: last, headers: retryAfter(walk.soonestMs) },
  );
}

/**
 * `x-mas-provider`/`-model` (the last model tried) and `x-mas-attempts` on errors too; and,
 * when the gateway already retried a 5xx/timeout, `x-should-retry: false`, which the official
 * SDKs obey, so one caller request does not reach the upstream (1 + retries) x 3 times.
 */
function withRouteHeaders(error: AppError, walk: Walk): AppError {
  const headers: Record<string, string> = { ...error.headers, 'x-mas-attempts': String(walk.attempts) };
  if (walk.lastModel) {
    headers['x-mas-provider'] = walk.lastModel.providerId;
    headers['x-mas-model'] = walk.lastModel.model.id;
  }
  if (walk.attempts > 1 && (error.status === 502 || error.status === 504))
    headers['x-should-retry'] = 'false';
  return new AppError(error.status, error.code, error.message, {
    type: error.type,
    param: error.param,
    headers,
    cause: error.cause,
  });
}

export { countTokens } from './call-metrics.ts';
export type { ChatChunk, ChatCompletion, ChatRequest };
