import * as z from 'zod/mini';
import { lazy } from '../http/lazy.ts';

/**
 * config/models.yaml's schema, built on first use: only config compilation and the
 * MAS_MODELS_YAML override parse with it, and building its ~130 zod schemas at module load would
 * be isolate start time that every isolate pays. zod/mini: the LLM functions carry it (for the
 * override) and need nothing of classic zod's chainable API.
 */
function build() {
  const providerTypeSchema = z.enum(['openai', 'gemini', 'anthropic', 'openai_compatible']);

  const envName = z.string().check(z.regex(/^[A-Z][A-Z0-9_]*$/, 'must be an env var name (A-Z, 0-9, _)'));
  const positiveInt = () => z.number().check(z.int(), z.positive());

  const providerSchema = z.strictObject({
    type: providerTypeSchema,
    /** Default base URL; `base_url_env` overrides it when that variable is set. */
    base_url: z.url(),
    base_url_env: z.optional(envName),
    /** Name of the env var holding the key: keys never live in YAML. */
    api_key_env: envName,
    /** Local servers (Ollama, vLLM) often need no key. */
    api_key_optional: z._default(z.boolean(), false),
    /** Per-attempt timeout. */
    timeout_ms: z._default(z.number().check(z.int(), z.positive(), z.lte(600_000)), 60_000),
    /**
     * The most one answer may carry: a non-stream body, or one stream event not yet ended
     * (16 MiB when unset, shared/llm/providers/http.ts). Past it the answer is a 502.
     */
    max_response_bytes: z.optional(positiveInt()),
    /** `max_tokens` when the caller gives none (Anthropic requires one). */
    default_max_tokens: z.optional(positiveInt()),
  });

  const capabilitySchema = z.enum(['chat', 'embeddings', 'tools', 'vision', 'json']);

  const modelSchema = z.strictObject({
    id: z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/)),
    provider: z.string(),
    /** The model name the upstream expects. */
    upstream: z.string().check(z.minLength(1)),
    capabilities: z.array(capabilitySchema).check(z.minLength(1)),
    context_window: positiveInt(),
    /** Embedding models: vector size. */
    dimension: z.optional(positiveInt()),
    /** USD per million tokens. */
    price: z.optional(
      z.strictObject({
        input: z.number().check(z.nonnegative()),
        output: z.number().check(z.nonnegative()),
        /** Prompt tokens the upstream served from its cache; priced as `input` when absent. */
        cached_input: z.optional(z.number().check(z.nonnegative())),
      }),
    ),
  });

  /**
   * The breaker of shared/llm/circuit-breaker.ts. `failure_threshold` (the old "N failures in the
   * window" setting) is still read, as `min_calls`, so registries written for it keep loading.
   */
  const circuitBreakerSchema = z.pipe(
    z.transform((value: unknown) => {
      if (!value || typeof value !== 'object' || !('failure_threshold' in value)) return value;
      const { failure_threshold, ...rest } = value as Record<string, unknown>;
      return { min_calls: failure_threshold, ...rest };
    }),
    z.strictObject({
      window_ms: z._default(positiveInt(), 10_000),
      buckets: z._default(z.number().check(z.int(), z.gte(1), z.lte(60)), 10),
      min_calls: z._default(positiveInt(), 10),
      failure_rate: z._default(z.number().check(z.gt(0), z.lte(1)), 0.5),
      open_ms: z._default(positiveInt(), 5_000),
      max_open_ms: z._default(positiveInt(), 60_000),
    }),
  );

  const policySchema = z.strictObject({
    /** Retries per model on retryable failures (network, 408, 409, 429, 5xx), then the next model. */
    retries: z._default(z.number().check(z.int(), z.gte(0), z.lte(10)), 2),
    backoff: z._default(z.strictObject({ base_ms: positiveInt(), max_ms: positiveInt() }), {
      base_ms: 250,
      max_ms: 4000,
    }),
    retry_after_cap_ms: z._default(positiveInt(), 10_000),
    /** Whole request, every attempt and fallback included; each attempt has its provider's timeout_ms. */
    deadline_ms: z._default(positiveInt(), 120_000),
    retry_budget: z._default(
      z.strictObject({
        ratio: z._default(z.number().check(z.gte(0), z.lte(10)), 0.2),
        min_retries: z._default(z.number().check(z.int(), z.gte(0)), 10),
        window_ms: z._default(positiveInt(), 10_000),
      }),
      { ratio: 0.2, min_retries: 10, window_ms: 10_000 },
    ),
    circuit_breaker: z._default(circuitBreakerSchema, {
      window_ms: 10_000,
      buckets: 10,
      min_calls: 10,
      failure_rate: 0.5,
      open_ms: 5_000,
      max_open_ms: 60_000,
    }),
  });

  const key = () => z.string().check(z.regex(/^[a-z][a-z0-9_-]*$/));
  const modelsConfigSchema = z
    .strictObject({
      providers: z.record(key(), providerSchema),
      models: z.array(modelSchema).check(z.minLength(1)),
      roles: z.record(key(), z.array(z.string()).check(z.minLength(1))),
      /** Opt-in exact-match response cache per role (`direct` for calls naming a model id). */
      cache: z._default(
        z.record(
          key(),
          z.strictObject({
            /** How long an answer is served from the cache. */
            ttl_seconds: z.number().check(z.int(), z.positive(), z.lte(30 * 86_400)),
            /** One cache for every principal (else each key has its own). */
            shared: z._default(z.boolean(), false),
            /** Also cache sampled answers (`temperature` > 0): replays one sample. */
            allow_temperature: z._default(z.boolean(), false),
          }),
        ),
        {},
      ),
      policy: z._default(policySchema, policySchema.parse({})),
    })
    .check(
      z.superRefine((config, ctx) => {
        const ids = new Set<string>();
        config.models.forEach((model, i) => {
          if (ids.has(model.id))
            ctx.addIssue({
              code: 'custom',
              path: ['models', i, 'id'],
              message: `duplicate model id ${model.id}`,
            });
          ids.add(model.id);
          if (!config.providers[model.provider]) {
            ctx.addIssue({
              code: 'custom',
              path: ['models', i, 'provider'],
              message: `unknown provider ${model.provider}`,
            });
          }
        });
        for (const [role, chain] of Object.entries(config.roles)) {
          chain.forEach((id, i) => {
            if (!ids.has(id))
              ctx.addIssue({ code: 'custom', path: ['roles', role, i], message: `unknown model ${id}` });
          });
        }
      }),
    );
  return { providerTypeSchema, providerSchema, capabilitySchema, modelSchema, modelsConfigSchema };
}

const schemas = lazy(build);
type Schemas = ReturnType<typeof build>;

/** The registry's schema, built on first call (the MAS_MODELS_YAML override's parse). */
export const modelsConfig = () => schemas().modelsConfigSchema;
/**
 * The same as a schema, for config compilation and tests (marked pure, so a bundle where nothing
 * reads it drops it, z.lazy instance and class).
 */
export const modelsConfigSchema = /* @__PURE__ */ z.lazy(modelsConfig);

export type ProviderType = z.infer<Schemas['providerTypeSchema']>;
export type ModelsConfig = z.infer<Schemas['modelsConfigSchema']>;
export type ModelEntry = z.infer<Schemas['modelSchema']>;
export type ProviderEntry = z.infer<Schemas['providerSchema']>;
