import * as z from 'zod';

/**
 * config/models.yaml's schema, built on first use: only config compilation and the
 * MAS_MODELS_YAML override parse with it, and building its ~130 zod schemas at module load would
 * be isolate start time that every isolate pays.
 */
function build() {
  const providerTypeSchema = z.enum(['openai', 'gemini', 'anthropic', 'openai_compatible']);

  const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an env var name (A-Z, 0-9, _)');

  const providerSchema = z
    .object({
      type: providerTypeSchema,
      /** Default base URL; `base_url_env` overrides it when that variable is set. */
      base_url: z.url(),
      base_url_env: envName.optional(),
      /** Name of the env var holding the key: keys never live in YAML. */
      api_key_env: envName,
      /** Local servers (Ollama, vLLM) often need no key. */
      api_key_optional: z.boolean().default(false),
      /** Per-attempt timeout. */
      timeout_ms: z.number().int().positive().max(600_000).default(60_000),
      /** `max_tokens` when the caller gives none (Anthropic requires one). */
      default_max_tokens: z.number().int().positive().optional(),
    })
    .strict();

  const capabilitySchema = z.enum(['chat', 'embeddings', 'tools', 'vision', 'json']);

  const modelSchema = z
    .object({
      id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/),
      provider: z.string(),
      /** The model name the upstream expects. */
      upstream: z.string().min(1),
      capabilities: z.array(capabilitySchema).min(1),
      context_window: z.number().int().positive(),
      /** Embedding models: vector size. */
      dimension: z.number().int().positive().optional(),
      /** USD per million tokens. */
      price: z
        .object({
          input: z.number().nonnegative(),
          output: z.number().nonnegative(),
          /** Prompt tokens the upstream served from its cache; priced as `input` when absent. */
          cached_input: z.number().nonnegative().optional(),
        })
        .strict()
        .optional(),
    })
    .strict();

  /**
   * The breaker of shared/llm/circuit-breaker.ts. `failure_threshold` (the old "N failures in the
   * window" setting) is still read, as `min_calls`, so registries written for it keep loading.
   */
  const circuitBreakerSchema = z.preprocess(
    (value) => {
      if (!value || typeof value !== 'object' || !('failure_threshold' in value)) return value;
      const { failure_threshold, ...rest } = value as Record<string, unknown>;
      return { min_calls: failure_threshold, ...rest };
    },
    z
      .object({
        window_ms: z.number().int().positive().default(10_000),
        buckets: z.number().int().min(1).max(60).default(10),
        min_calls: z.number().int().positive().default(10),
        failure_rate: z.number().gt(0).max(1).default(0.5),
        open_ms: z.number().int().positive().default(5_000),
        max_open_ms: z.number().int().positive().default(60_000),
      })
      .strict(),
  );

  const policySchema = z
    .object({
      /** Retries per model on retryable failures (network, 408, 409, 429, 5xx), then the next model. */
      retries: z.number().int().min(0).max(10).default(2),
      backoff: z
        .object({ base_ms: z.number().int().positive(), max_ms: z.number().int().positive() })
        .strict()
        .default({ base_ms: 250, max_ms: 4000 }),
      retry_after_cap_ms: z.number().int().positive().default(10_000),
      /** Whole request, every attempt and fallback included; each attempt has its provider's timeout_ms. */
      deadline_ms: z.number().int().positive().default(120_000),
      retry_budget: z
        .object({
          ratio: z.number().min(0).max(10).default(0.2),
          min_retries: z.number().int().min(0).default(10),
          window_ms: z.number().int().positive().default(10_000),
        })
        .strict()
        .default({ ratio: 0.2, min_retries: 10, window_ms: 10_000 }),
      circuit_breaker: circuitBreakerSchema.default({
        window_ms: 10_000,
        buckets: 10,
        min_calls: 10,
        failure_rate: 0.5,
        open_ms: 5_000,
        max_open_ms: 60_000,
      }),
    })
    .strict();

  const modelsConfigSchema = z
    .object({
      providers: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), providerSchema),
      models: z.array(modelSchema).min(1),
      roles: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.array(z.string()).min(1)),
      /** Opt-in exact-match response cache per role (`direct` for calls naming a model id). */
      cache: z
        .record(
          z.string().regex(/^[a-z][a-z0-9_-]*$/),
          z
            .object({
              /** How long an answer is served from the cache. */
              ttl_seconds: z
                .number()
                .int()
                .positive()
                .max(30 * 86_400),
              /** One cache for every principal (else each key has its own). */
              shared: z.boolean().default(false),
              /** Also cache sampled answers (`temperature` > 0): replays one sample. */
              allow_temperature: z.boolean().default(false),
            })
            .strict(),
        )
        .default({}),
      policy: policySchema.default(policySchema.parse({})),
    })
    .strict()
    .superRefine((config, ctx) => {
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
    });
  return { providerTypeSchema, providerSchema, capabilitySchema, modelSchema, modelsConfigSchema };
}

let built: ReturnType<typeof build> | undefined;
const schemas = () => {
  built ??= build();
  return built;
};
type Schemas = ReturnType<typeof build>;

export const modelsConfigSchema = z.lazy(() => schemas().modelsConfigSchema);

export type ProviderType = z.infer<Schemas['providerTypeSchema']>;
export type ModelsConfig = z.infer<Schemas['modelsConfigSchema']>;
export type ModelEntry = z.infer<Schemas['modelSchema']>;
export type ProviderEntry = z.infer<Schemas['providerSchema']>;
