import * as z from 'zod/mini';

/**
 * Worker bindings. Everything is a plain string var or secret so the same code runs under
 * wrangler, Miniflare, Deno (Deno.env) and Node (process.env).
 */
export interface Env {
  DATABASE_URL?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  QDRANT_URL?: string;
  QDRANT_API_KEY?: string;
  LLM_BASE_URL?: string;
  LLM_HEALTH_URL?: string;
  LLM_DEFAULT_PROVIDER?: string;
  /** A second OpenAI-compatible server, tried after LLM_BASE_URL's models (same model names). */
  LLM_FALLBACK_BASE_URL?: string;
  /** Per-attempt timeout for LLM_BASE_URL / LLM_FALLBACK_BASE_URL (default 60000). */
  LLM_TIMEOUT_MS?: string;
  PUSHGATEWAY_URL?: string;
  MAS_API_KEYS?: string;
  LOG_LEVEL?: string;
  APPROVAL_REQUIRED?: string;
  ACTION_AUDIT_ENABLED?: string;
  EXPOSE_METRICS?: string;
  CORS_ORIGINS?: string;
  RESPONSES_RETENTION_DAYS?: string;
  RATE_LIMIT_REQUESTS?: string;
  RATE_LIMIT_AUTH_FAILURES?: string;
  RATE_LIMIT_FLUSH_MS?: string;
  USAGE_FLUSH_MS?: string;
  READY_CACHE_MS?: string;
  METRICS_GROUP_IDLE_SECONDS?: string;
  APPROVAL_SECRET?: string;
  APPROVAL_WEBHOOK_URL?: string;
  APPROVAL_WEBHOOK_SECRET?: string;
  APPROVAL_WEBHOOK_ALLOW_PRIVATE?: string;
  LEDGER_SIGNING_KEY?: string;
  LEDGER_ORIGIN?: string;
  LEDGER_PREVIOUS_PUBLIC_KEYS?: string;
  LEDGER_WITNESS_URL?: string;
  LEDGER_WITNESS_SECRET?: string;
  LEDGER_WITNESS_ALLOW_PRIVATE?: string;
  LEDGER_CHECKPOINT_INTERVAL_SECONDS?: string;
  [key: string]: unknown;
}

// zod/mini: the env schema is in every function, health included, and the mini API keeps the
// smallest bundles free of zod's chainable classic API.
const optionalString = z.pipe(
  z.optional(z.string().check(z.trim())),
  z.transform((v: string | undefined) => (v ? v : undefined)),
);

const optionalUrl = z.pipe(optionalString, z.optional(z.url()));

const boolFlag = (fallback: boolean) =>
  z.pipe(
    z.optional(z.string().check(z.trim(), z.toLowerCase())),
    z.transform((v: string | undefined) =>
      v === undefined || v === '' ? fallback : !['false', '0', 'no', 'off'].includes(v),
    ),
  );

export const settingsSchema = z.object({
  DATABASE_URL: optionalString.check(
    z.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
      message: 'must look like postgres://user:password@host:5432/dbname',
    }),
  ),
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  QDRANT_URL: optionalUrl,
  QDRANT_API_KEY: optionalString,
  LLM_BASE_URL: optionalUrl,
  LLM_HEALTH_URL: optionalUrl,
  LLM_FALLBACK_BASE_URL: optionalUrl,
  PUSHGATEWAY_URL: optionalUrl,
  MAS_API_KEYS: optionalString,
  LOG_LEVEL: z.pipe(
    z.pipe(
      z.optional(z.string().check(z.trim(), z.toLowerCase())),
      z.transform((v: string | undefined) => v || 'info'),
    ),
    z.enum(['debug', 'info', 'warn', 'error', 'silent']),
  ),
  APPROVAL_REQUIRED: boolFlag(true),
  ACTION_AUDIT_ENABLED: boolFlag(true),
  /** Signs approval receipts (and the approvals page session). */
  APPROVAL_SECRET: optionalString,
  /** Receives a signed POST for every new pending approval and every decision. */
  APPROVAL_WEBHOOK_URL: optionalUrl,
  APPROVAL_WEBHOOK_SECRET: optionalString,
  /**
   * Lets the webhook target loopback/link-local/private addresses: local development and tests
   * only (`npm start` and the test setup set it). Off, such a URL is refused.
   */
  APPROVAL_WEBHOOK_ALLOW_PRIVATE: boolFlag(false),
  /** Overrides `rate_limit.requests` of config/gateway.yaml (per principal per window). */
  RATE_LIMIT_REQUESTS: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.positive()),
    ),
  ),
  /** Overrides `rate_limit.auth_failures_per_client` (failed authentications per client per window). */
  RATE_LIMIT_AUTH_FAILURES: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.positive()),
    ),
  ),
  /**
   * How often an isolate sends its batched background rate-limit hits to Redis (ms, default 250;
   * 0 sends each at once: the test suite, whose calls wait for their background work).
   */
  RATE_LIMIT_FLUSH_MS: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.nonnegative()),
    ),
  ),
  /**
   * How long an isolate gathers usage rows before writing them to Postgres in one statement (ms,
   * default 250; 0 writes at the next turn: the test suite, whose calls wait for their background work).
   */
  USAGE_FLUSH_MS: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.nonnegative()),
    ),
  ),
  /** Overrides `ready.cache_ms` (how long an isolate reuses its last /ready answer; 0: never). */
  READY_CACHE_MS: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.nonnegative()),
    ),
  ),
  /** Overrides `metrics.group_idle_seconds` (idle Pushgateway groups the cron deletes; >= 60). */
  METRICS_GROUP_IDLE_SECONDS: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.gte(60)),
    ),
  ),
  /** Origins browsers may call from: comma-separated, or `*`; unset: no CORS headers. */
  CORS_ORIGINS: optionalString,
  /** Days a stored Responses API response (`store: true`) is kept (default 30, as OpenAI). */
  RESPONSES_RETENTION_DAYS: z.pipe(
    optionalString,
    z.optional(
      z.coerce
        .number<string>()
        .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.positive()),
    ),
  ),
  /** Signs ledger checkpoints: PRIVATE+KEY+<name>+<id>+<base64> (`npm run keys -- ledger-keygen`). */
  LEDGER_SIGNING_KEY: optionalString,
  /** The checkpoints' origin line; default the signing key's name. */
  LEDGER_ORIGIN: optionalString,
  /**
   * After a key rotation: the public keys (`<name>+<key id>+<base64>`, comma or space separated)
   * that signed older checkpoints, so verification still accepts them.
   */
  LEDGER_PREVIOUS_PUBLIC_KEYS: optionalString,
  /** Receives every new checkpoint (HMAC-signed with LEDGER_WITNESS_SECRET): a copy outside the database. */
  LEDGER_WITNESS_URL: optionalUrl,
  LEDGER_WITNESS_SECRET: optionalString,
  /** Local development only: let LEDGER_WITNESS_URL name a loopback, link-local or private address. */
  LEDGER_WITNESS_ALLOW_PRIVATE: boolFlag(false),
  /** The scheduled handler signs a checkpoint when the log grew and the last is this old (s). */
  LEDGER_CHECKPOINT_INTERVAL_SECONDS: z.pipe(
    z.pipe(
      optionalString,
      z.transform((v: string | undefined) => v ?? '60'),
    ),
    z.coerce
      .number<string>()
      .check(z.refine(Number.isInteger, { message: 'must be an integer' }), z.positive()),
  ),
  /** Serve GET /metrics (local runs); deployed isolates push to the Pushgateway instead. */
  EXPOSE_METRICS: boolFlag(false),
});

export type Settings = z.infer<typeof settingsSchema>;

const cache = new WeakMap<object, Settings>();

/**
 * Validated settings for an env object, parsed once per env (bindings are fixed per isolate).
 * A bad value fails the request with a 500 that names the variable, never its value.
 */
export function getSettings(env: Env): Settings {
  let settings = cache.get(env);
  if (!settings) {
    const result = settingsSchema.safeParse(pickStrings(env));
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new SettingsError(`invalid setting ${issue?.path.join('.')}: ${issue?.message}`);
    }
    settings = result.data;
    cache.set(env, settings);
  }
  return settings;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function pickStrings(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(settingsSchema.shape)) {
    const value = env[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}
