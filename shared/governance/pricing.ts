/**
 * What an LLM call cost, from the registry's prices (USD per million tokens) and the usage the
 * upstream reported. Every endpoint's usage shape (Chat Completions, Responses, Anthropic
 * Messages, embeddings) is read here, so budgets and the usage ledger price them all alike.
 */

export interface Price {
  input: number;
  output: number;
  /** Cached prompt tokens; priced as `input` when absent. */
  cached_input?: number;
}

export interface TokenCounts {
  prompt: number;
  completion: number;
  /** Of `prompt`, how many the upstream served from its prompt cache. */
  cached: number;
}

const count = (v: unknown): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/** Token counts from any usage shape we forward; zeros for what is absent. */
export function tokenCounts(usage: unknown): TokenCounts {
  if (!usage || typeof usage !== 'object') return { prompt: 0, completion: 0, cached: 0 };
  const u = usage as Record<string, unknown>;
  const details = (u.prompt_tokens_details ?? u.input_tokens_details) as Record<string, unknown> | undefined;
  // Anthropic reports cache reads and writes beside (not inside) input_tokens.
  const anthropicCached = count(u.cache_read_input_tokens);
  const anthropicWritten = count(u.cache_creation_input_tokens);
  const prompt = count(u.prompt_tokens ?? u.input_tokens) + anthropicCached + anthropicWritten;
  const completion = count(u.completion_tokens ?? u.output_tokens);
  const cached = Math.min(prompt, count(details?.cached_tokens) + anthropicCached);
  return { prompt, completion, cached };
}

/** USD for these tokens at this price; `null` when the model has no price. */
export function costUsd(price: Price | undefined, tokens: TokenCounts): number | null {
  if (!price) return null;
  const cachedPrice = price.cached_input ?? price.input;
  const uncached = Math.max(0, tokens.prompt - tokens.cached);
  return (
    (uncached * price.input + tokens.cached * cachedPrice + tokens.completion * price.output) / 1_000_000
  );
}

/** Nano-dollars: budgets are counted in integers so Redis adds them exactly. */
// The epsilon keeps float noise (0.1 + 0.2) from rounding a whole nano-dollar up.
export const toNanoUsd = (usd: number): number => Math.ceil(usd * 1e9 - 1e-6);
export const fromNanoUsd = (nano: number): number => nano / 1e9;

/** The cost as the `x-mas-cost-usd` header shows it: plain decimal, no exponent. */
export function formatUsd(usd: number): string {
  return usd.toFixed(10).replace(/0+$/, '').replace(/\.$/, '.0');
}
