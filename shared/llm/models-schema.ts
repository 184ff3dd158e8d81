import * as z from 'zod';

export const providerTypeSchema = z.enum(['openai', 'gemini', 'anthropic', 'openai_compatible']);
export type ProviderType = z.infer<typeof providerTypeSchema>;

const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an env var name (A-Z, 0-9, _)');

export const providerSchema = z
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

export const capabilitySchema = z.enum(['chat', 'embeddings', 'tools', 'vision', 'json']);

export const modelSchema = z
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

export const modelsConfigSchema = z
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
    policy: z
      .object({
        retries: z.number().int().min(0).max(10).default(2),
        backoff: z
          .object({ base_ms: z.number().int().positive(), max_ms: z.number().int().positive() })
          .strict()
          .default({ base_ms: 250, max_ms: 4000 }),
        retry_after_cap_ms: z.number().int().positive().default(10_000),
        deadline_ms: z.number().int().positive().default(120_000),
        circuit_breaker: z
          .object({
            failure_threshold: z.number().int().positive(),
            window_ms: z.number().int().positive(),
            open_ms: z.number().int().positive(),
          })
          .strict()
          .default({ failure_threshold: 5, window_ms: 60_000, open_ms: 30_000 }),
      })
      .strict()
      .default({
        retries: 2,
        backoff: { base_ms: 250, max_ms: 4000 },
        retry_after_cap_ms: 10_000,
        deadline_ms: 120_000,
        circuit_breaker: { failure_threshold: 5, window_ms: 60_000, open_ms: 30_000 },
      }),
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

export type ModelsConfig = z.infer<typeof modelsConfigSchema>;
export type ModelEntry = z.infer<typeof modelSchema>;
export type ProviderEntry = z.infer<typeof providerSchema>;
