import * as z from 'zod';

/** Kernel settings from `config/gateway.yaml`: one schema, types derived with `z.infer`. */
export const gatewayConfigSchema = z
  .object({
    http: z
      .object({
        /** Largest accepted request body per function (bytes); `default` for the rest. */
        max_body_bytes: z
          .object({ default: z.number().int().positive() })
          .catchall(z.number().int().positive())
          .default({ default: 262_144 }),
      })
      .strict()
      .default({ max_body_bytes: { default: 262_144 } }),
    rate_limit: z
      .object({
        /** Requests allowed per principal per window. */
        requests: z.number().int().positive(),
        /** Sliding window length. */
        window_seconds: z.number().int().positive(),
      })
      .strict()
      .default({ requests: 600, window_seconds: 60 }),
    ready: z
      .object({
        /** Per-check timeout of /ready. */
        timeout_ms: z.number().int().positive().max(30_000),
        /** Checks whose failure turns /ready into 503, when that dependency is configured. */
        required: z.array(z.enum(['postgres', 'redis', 'vector_store', 'llm_upstream'])),
      })
      .strict()
      .default({ timeout_ms: 2000, required: ['postgres', 'redis', 'vector_store'] }),
    metrics: z
      .object({
        /** Pushgateway `job` grouping label. */
        job: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/),
        /** Each push is abandoned after this long; it never delays a response. */
        push_timeout_ms: z.number().int().positive(),
        /** At most one push-failure warning per isolate per this many seconds. */
        warn_interval_seconds: z.number().int().positive(),
      })
      .strict()
      .default({ job: 'mas', push_timeout_ms: 1500, warn_interval_seconds: 60 }),
    redaction: z
      .object({
        /** Key names redacted on top of the built-in list. */
        extra_keys: z.array(z.string().min(1)),
      })
      .strict()
      .default({ extra_keys: [] }),
  })
  .strict();

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type ReadyCheckName = GatewayConfig['ready']['required'][number];
