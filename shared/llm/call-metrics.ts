import { llmRequestDuration, llmRequestsTotal, llmTokensTotal } from '../metrics/registry.ts';
import { CounterSeries, HistogramSeries } from '../metrics/series.ts';
import type { ResolvedModel } from './registry.ts';

/** The series every answered call of a model, for one role, updates. */
export interface CallSeries {
  duration: HistogramSeries;
  ok: CounterSeries;
}

interface ModelSeries {
  roles: Map<string, CallSeries>;
  prompt: CounterSeries;
  completion: CounterSeries;
}

/**
 * Per registry model entry (one object per model for as long as its registry lives; the
 * ResolvedModel around it is made per request), so the map is bounded by the models and roles
 * configured. prom-client's `observe`/`inc` hash and copy a labels object on every call (issue
 * #23: ~1 µs of the router's per-call work in Node); series.ts updates the same series in place.
 */
const byModel = new WeakMap<object, ModelSeries>();

function modelSeries(model: ResolvedModel): ModelSeries {
  let s = byModel.get(model.model);
  if (!s) {
    const labels = { provider: model.providerId, model: model.model.id };
    s = {
      roles: new Map(),
      prompt: new CounterSeries(llmTokensTotal, { ...labels, type: 'prompt' }),
      completion: new CounterSeries(llmTokensTotal, { ...labels, type: 'completion' }),
    };
    byModel.set(model.model, s);
  }
  return s;
}

/** `llm_request_duration_seconds` and `llm_requests_total{status="ok"}` of a model in a role. */
export function callSeries(model: ResolvedModel, role: string): CallSeries {
  const roles = modelSeries(model).roles;
  let s = roles.get(role);
  if (!s) {
    const labels = { provider: model.providerId, model: model.model.id, role };
    s = {
      duration: new HistogramSeries(llmRequestDuration, labels),
      ok: new CounterSeries(llmRequestsTotal, { ...labels, status: 'ok' }),
    };
    roles.set(role, s);
  }
  return s;
}

/** `llm_tokens_total` from a completion's (or a stream's last chunk's) usage. */
export function countTokens(
  model: ResolvedModel,
  usage: { prompt_tokens?: number; completion_tokens?: number } | null | undefined,
): void {
  if (!usage) return;
  const s = modelSeries(model);
  if (usage.prompt_tokens) s.prompt.inc(usage.prompt_tokens);
  if (usage.completion_tokens) s.completion.inc(usage.completion_tokens);
}
