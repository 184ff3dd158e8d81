import { AppError } from '../errors/index.ts';
import type { Logger } from '../log/logger.ts';
import { llmRequestDuration, llmRequestsTotal, llmTokensTotal } from '../metrics/registry.ts';
import { redactString } from '../redact/index.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { ModelsConfig } from './models-schema.ts';
import { ProviderError } from './provider-error.ts';
import type { ChatChunk, ChatCompletion, ChatRequest, Usage } from './providers/types.ts';
import type { ResolvedModel, ResolvedTarget } from './registry.ts';

export interface RouteContext {
  target: ResolvedTarget;
  policy: ModelsConfig['policy'];
  breaker: CircuitBreaker;
  log: Logger;
  /** Aborted when the caller goes away: the upstream call is aborted with it. */
  signal: AbortSignal;
  headers: () => Record<string, string>;
  sleep?: (ms: number) => Promise<void>;
  /** Streams time out per chunk inside the provider, not per whole attempt. */
  streaming?: boolean;
}

export interface Routed<T> {
  result: T;
  model: ResolvedModel;
  attempts: number;
  /** Time spent waiting on upstreams, every attempt included (for streams: until the first chunk). */
  upstreamMs: number;
}

/**
 * Walks the chain: skips models without a credential or with an open circuit, retries retryable
 * failures with exponential backoff and full jitter (honouring Retry-After up to a cap), falls
 * back to the next model when retries run out or another model could do better, and returns a
 * caller's 400 at once. One deadline bounds the whole walk.
 */
export async function routeCall<T>(
  ctx: RouteContext,
  call: (model: ResolvedModel, signal: AbortSignal) => Promise<T>,
): Promise<Routed<T>> {
  const { policy } = ctx;
  const deadline = Date.now() + policy.deadline_ms;
  const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const skipped: string[] = [];
  let attempts = 0;
  let upstreamMs = 0;
  let lastError: ProviderError | undefined;
  for (const model of ctx.target.chain) {
    if (model.unavailable) {
      skipped.push(`${model.model.id}: ${model.unavailable}`);
      continue;
    }
    const circuitKey = `${model.providerId}:${model.model.id}`;
    if (await ctx.breaker.isOpen(circuitKey)) {
      skipped.push(`${model.model.id}: circuit open`);
      continue;
    }
    for (let retry = 0; retry <= policy.retries; retry++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw deadlineError(attempts, policy.deadline_ms);
      attempts++;
      const started = performance.now();
      const labels = { provider: model.providerId, model: model.model.id, role: ctx.target.role };
      const attemptSignal = ctx.streaming
        ? ctx.signal
        : AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.min(model.provider.timeout_ms, remaining))]);
      try {
        const result = await call(model, attemptSignal);
        const elapsed = performance.now() - started;
        upstreamMs += elapsed;
        llmRequestDuration.observe(labels, elapsed / 1000);
        llmRequestsTotal.inc({ ...labels, status: 'ok' });
        await ctx.breaker.onSuccess(circuitKey);
        return { result, model, attempts, upstreamMs };
      } catch (err) {
        const elapsed = performance.now() - started;
        upstreamMs += elapsed;
        llmRequestDuration.observe(labels, elapsed / 1000);
        if (ctx.signal.aborted) {
          llmRequestsTotal.inc({ ...labels, status: 'client_closed' });
          throw new AppError(499, 'client_closed_request', 'The client closed the request.');
        }
        const error = err instanceof ProviderError ? err : timeoutOrUnknown(model, err, attemptSignal);
        llmRequestsTotal.inc({ ...labels, status: error.status ? String(error.status) : error.code });
        ctx.log.warn('llm attempt failed', {
          provider: model.providerId,
          model: model.model.id,
          attempt: attempts,
          status: error.status ?? null,
          code: error.code,
          retryable: error.retryable,
        });
        lastError = error;
        if (!error.retryable && !error.fallback) throw callerError(error);
        if (error.retryable) await ctx.breaker.onFailure(circuitKey);
        if (!error.retryable || retry === policy.retries) break;
        const wait = error.retryAfterMs ?? fullJitter(policy.backoff.base_ms, policy.backoff.max_ms, retry);
        // A long Retry-After is better spent on the next model.
        if (error.retryAfterMs !== undefined && error.retryAfterMs > policy.retry_after_cap_ms) break;
        if (Date.now() + wait >= deadline) break;
        await sleep(wait);
      }
    }
  }
  throw exhausted(lastError, skipped, attempts);
}

function fullJitter(base: number, max: number, retry: number): number {
  return Math.floor(Math.random() * Math.min(max, base * 2 ** retry));
}

function timeoutOrUnknown(model: ResolvedModel, err: unknown, signal: AbortSignal): ProviderError {
  if (signal.aborted)
    return new ProviderError(model.providerId, 'upstream timed out', {
      code: 'upstream_timeout',
      cause: err,
    });
  return new ProviderError(model.providerId, 'upstream failed', { cause: err });
}

/** An upstream 400 that no other model would fix: the caller's request is at fault. */
function callerError(error: ProviderError): AppError {
  const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 400;
  return new AppError(
    status,
    error.code === `upstream_${status}` ? 'invalid_request' : error.code,
    redactString(error.message).value,
    {
      cause: error,
    },
  );
}

function deadlineError(attempts: number, deadlineMs: number): AppError {
  return new AppError(
    504,
    'upstream_timeout',
    `No model answered within the ${deadlineMs} ms deadline (${attempts} attempts).`,
  );
}

function exhausted(last: ProviderError | undefined, skipped: string[], attempts: number): AppError {
  const tried = skipped.length ? ` Skipped: ${skipped.join('; ')}.` : '';
  if (!last) {
    return new AppError(503, 'no_model_available', `No model in the chain could be called.${tried}`);
  }
  const timeout = last.code === 'upstream_timeout';
  return new AppError(
    timeout ? 504 : 502,
    timeout ? 'upstream_timeout' : 'upstream_error',
    `All models failed after ${attempts} attempts; last: ${last.provider} ${last.status ?? last.code}: ${redactString(last.message).value}.${tried}`,
    { cause: last },
  );
}

/** Counts tokens from a completion's (or a stream's last chunk's) usage. */
export function countTokens(model: ResolvedModel, usage: Usage | null | undefined): void {
  if (!usage) return;
  const labels = { provider: model.providerId, model: model.model.id };
  if (usage.prompt_tokens) llmTokensTotal.inc({ ...labels, type: 'prompt' }, usage.prompt_tokens);
  if (usage.completion_tokens) llmTokensTotal.inc({ ...labels, type: 'completion' }, usage.completion_tokens);
}

export type { ChatChunk, ChatCompletion, ChatRequest };
