import * as z from 'zod';

// In a module of its own: the usage routes validate budgets at run time, and importing this file
// would build the whole gateway schema in every isolate that loads them.
import { budgetLimitsSchema } from './budget-limits.ts';

export { type BudgetLimits, budgetLimitsSchema } from './budget-limits.ts';

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
        /**
         * Failed authentications (no key, malformed, unknown or revoked) per client address per
         * window; past it the client gets 429 before auth (docs/API.md "Principals and keys").
         */
        auth_failures_per_client: z.number().int().positive().default(60),
      })
      .strict()
      .default({ requests: 600, window_seconds: 60, auth_failures_per_client: 60 }),
    ready: z
      .object({
        /** Per-check timeout of /ready. */
        timeout_ms: z.number().int().positive().max(30_000),
        /** Checks whose failure turns /ready into 503, when that dependency is configured. */
        required: z.array(z.enum(['postgres', 'redis', 'vector_store', 'llm_upstream'])),
        /**
         * How long an isolate reuses its last /ready answer (0: check on every call). /ready needs
         * no key, so without this every call would open connections to every dependency.
         */
        cache_ms: z.number().int().min(0).max(10_000).default(1000),
      })
      .strict()
      .default({ timeout_ms: 2000, required: ['postgres', 'redis', 'vector_store'], cache_ms: 1000 }),
    metrics: z
      .object({
        /** Pushgateway `job` grouping label. */
        job: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/),
        /** Each push is abandoned after this long; it never delays a response. */
        push_timeout_ms: z.number().int().positive(),
        /** At most one push-failure warning per isolate per this many seconds. */
        warn_interval_seconds: z.number().int().positive(),
        /**
         * The cron deletes per-isolate Pushgateway groups not pushed to for this long (an idle
         * isolate's counters are flat, so rate() and increase() lose nothing; docs/KERNEL.md).
         */
        group_idle_seconds: z.number().int().min(60).default(600),
      })
      .strict()
      .default({ job: 'mas', push_timeout_ms: 1500, warn_interval_seconds: 60, group_idle_seconds: 600 }),
    budgets: z
      .object({
        /** Output tokens reserved for a request that names no max_tokens / max_output_tokens. */
        default_max_output_tokens: z.number().int().positive().max(1_000_000),
        /** How long an unsettled reservation counts: one from a crashed isolate lapses after this. */
        reservation_ttl_seconds: z.number().int().positive().max(86_400),
        /** How long an isolate trusts the budgets it read from Postgres (an admin's change takes this long). */
        cache_seconds: z.number().int().nonnegative().max(300),
        /** Limits for keys, agents and roles that have none of their own (absent = unlimited). */
        defaults: z
          .object({
            principal: z._default(budgetLimitsSchema, {}),
            agent: z._default(budgetLimitsSchema, {}),
            role: z._default(budgetLimitsSchema, {}),
          })
          .strict()
          .default({ principal: {}, agent: {}, role: {} }),
      })
      .strict()
      .default({
        default_max_output_tokens: 4096,
        reservation_ttl_seconds: 300,
        cache_seconds: 5,
        defaults: { principal: {}, agent: {}, role: {} },
      }),
    vectors: z
      .object({
        /**
         * Collections every principal addresses under the same name, with the roles that may read
         * (search) and write (upsert) them. Any other name is private to the calling principal.
         */
        shared: z
          .record(
            z.string().regex(/^[a-z0-9_]{1,48}$/),
            z
              .object({
                read: z.array(z.enum(['agent', 'approver', 'admin'])),
                write: z.array(z.enum(['agent', 'approver', 'admin'])),
              })
              .strict(),
          )
          .default({}),
      })
      .strict()
      .default({ shared: {} }),
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
