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

/** The settings, parsed and normalised from the bindings: `getSettings`. */
export interface Settings {
  DATABASE_URL?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  QDRANT_URL?: string;
  QDRANT_API_KEY?: string;
  LLM_BASE_URL?: string;
  LLM_HEALTH_URL?: string;
  LLM_FALLBACK_BASE_URL?: string;
  PUSHGATEWAY_URL?: string;
  MAS_API_KEYS?: string;
  LOG_LEVEL: (typeof LOG_LEVELS)[number];
  APPROVAL_REQUIRED: boolean;
  ACTION_AUDIT_ENABLED: boolean;
  /** Signs approval receipts (and the approvals page session). */
  APPROVAL_SECRET?: string;
  /** Receives a signed POST for every new pending approval and every decision. */
  APPROVAL_WEBHOOK_URL?: string;
  APPROVAL_WEBHOOK_SECRET?: string;
  /**
   * Lets the webhook target loopback/link-local/private addresses: local development and tests
   * only (`npm start` and the test setup set it). Off, such a URL is refused.
   */
  APPROVAL_WEBHOOK_ALLOW_PRIVATE: boolean;
  /** Overrides `rate_limit.requests` of config/gateway.yaml (per principal per window). */
  RATE_LIMIT_REQUESTS?: number;
  /** Overrides `rate_limit.auth_failures_per_client` (failed authentications per client per window). */
  RATE_LIMIT_AUTH_FAILURES?: number;
  /**
   * How often an isolate sends its batched background rate-limit hits to Redis (ms, default 250;
   * 0 sends each at once: the test suite, whose calls wait for their background work).
   */
  RATE_LIMIT_FLUSH_MS?: number;
  /**
   * How long an isolate gathers usage rows before writing them to Postgres in one statement (ms,
   * default 250; 0 writes at the next turn: the test suite, whose calls wait for their background work).
   */
  USAGE_FLUSH_MS?: number;
  /** Overrides `ready.cache_ms` (how long an isolate reuses its last /ready answer; 0: never). */
  READY_CACHE_MS?: number;
  /** Overrides `metrics.group_idle_seconds` (idle Pushgateway groups the cron deletes; >= 60). */
  METRICS_GROUP_IDLE_SECONDS?: number;
  /** Origins browsers may call from: comma-separated, or `*`; unset: no CORS headers. */
  CORS_ORIGINS?: string;
  /** Days a stored Responses API response (`store: true`) is kept (default 30, as OpenAI). */
  RESPONSES_RETENTION_DAYS?: number;
  /** Signs ledger checkpoints: PRIVATE+KEY+<name>+<id>+<base64> (`npm run keys -- ledger-keygen`). */
  LEDGER_SIGNING_KEY?: string;
  /** The checkpoints' origin line; default the signing key's name. */
  LEDGER_ORIGIN?: string;
  /**
   * After a key rotation: the public keys (`<name>+<key id>+<base64>`, comma or space separated)
   * that signed older checkpoints, so verification still accepts them.
   */
  LEDGER_PREVIOUS_PUBLIC_KEYS?: string;
  /** Receives every new checkpoint (HMAC-signed with LEDGER_WITNESS_SECRET): a copy outside the database. */
  LEDGER_WITNESS_URL?: string;
  LEDGER_WITNESS_SECRET?: string;
  /** Local development only: let LEDGER_WITNESS_URL name a loopback, link-local or private address. */
  LEDGER_WITNESS_ALLOW_PRIVATE: boolean;
  /** The scheduled handler signs a checkpoint when the log grew and the last is this old (s). */
  LEDGER_CHECKPOINT_INTERVAL_SECONDS: number;
  /** Serve GET /metrics (local runs); deployed isolates push to the Pushgateway instead. */
  EXPOSE_METRICS: boolean;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** A bad value: its message (zod's English words, which these settings were validated with before). */
class Invalid {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/**
 * The settings are parsed by hand, not by a zod schema: every isolate parses them on its first
 * request, and building ~100 zod schemas at module load and running them on that request was a
 * measurable part of a new isolate's first request (`npm run bench:isolate-start`). Each rule
 * below gives what the zod/mini schema it replaced gave, value for value and message for message
 * (shared/env.test.ts holds the messages): strings trimmed and empty as unset, URLs checked by the
 * URL parser, flags off for false/0/no/off, integers by `Number()` then the bound.
 */
type Rule = (raw: string | undefined) => unknown;

const optionalString: Rule = (raw) => raw?.trim() || undefined;

const canParseUrl = (s: string): boolean => {
  if (typeof URL.canParse === 'function') return URL.canParse(s);
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
};

const optionalUrl: Rule = (raw) => {
  const s = raw?.trim();
  if (!s) return undefined;
  if (!canParseUrl(s)) return new Invalid('Invalid URL');
  // As the URL parser does (and zod's url check did): tabs and line breaks are dropped.
  return s.replace(/[\t\n\r]/g, '');
};

const OFF = ['false', '0', 'no', 'off'];
const boolFlag =
  (fallback: boolean): Rule =>
  (raw) => {
    const v = raw?.trim().toLowerCase();
    return v === undefined || v === '' ? fallback : !OFF.includes(v);
  };

/** An integer setting: unset stays unset (or `fallback`), else `Number()` of it, an integer, at least `min` (above it when `exclusive`). */
const integer =
  (min: number, exclusive: boolean, fallback?: number): Rule =>
  (raw) => {
    const s = raw?.trim();
    if (!s) return fallback;
    const n = Number(s);
    if (!Number.isFinite(n)) return new Invalid(`Invalid input: expected number, received ${n}`);
    if (!Number.isInteger(n)) return new Invalid('must be an integer');
    if (exclusive ? n <= min : n < min)
      return new Invalid(`Too small: expected number to be ${exclusive ? '>' : '>='}${min}`);
    return n;
  };
const positiveInt = integer(0, true);
const nonNegativeInt = integer(0, false);

const RULES: { readonly [K in keyof Settings]-?: Rule } = {
  DATABASE_URL: (raw) => {
    const v = optionalString(raw) as string | undefined;
    return v === undefined || /^postgres(ql)?:\/\//.test(v)
      ? v
      : new Invalid('must look like postgres://user:password@host:5432/dbname');
  },
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  QDRANT_URL: optionalUrl,
  QDRANT_API_KEY: optionalString,
  LLM_BASE_URL: optionalUrl,
  LLM_HEALTH_URL: optionalUrl,
  LLM_FALLBACK_BASE_URL: optionalUrl,
  PUSHGATEWAY_URL: optionalUrl,
  MAS_API_KEYS: optionalString,
  LOG_LEVEL: (raw) => {
    const v = raw?.trim().toLowerCase() || 'info';
    return (LOG_LEVELS as readonly string[]).includes(v)
      ? v
      : new Invalid(`Invalid option: expected one of ${LOG_LEVELS.map((l) => `"${l}"`).join('|')}`);
  },
  APPROVAL_REQUIRED: boolFlag(true),
  ACTION_AUDIT_ENABLED: boolFlag(true),
  APPROVAL_SECRET: optionalString,
  APPROVAL_WEBHOOK_URL: optionalUrl,
  APPROVAL_WEBHOOK_SECRET: optionalString,
  APPROVAL_WEBHOOK_ALLOW_PRIVATE: boolFlag(false),
  RATE_LIMIT_REQUESTS: positiveInt,
  RATE_LIMIT_AUTH_FAILURES: positiveInt,
  RATE_LIMIT_FLUSH_MS: nonNegativeInt,
  USAGE_FLUSH_MS: nonNegativeInt,
  READY_CACHE_MS: nonNegativeInt,
  METRICS_GROUP_IDLE_SECONDS: integer(60, false),
  CORS_ORIGINS: optionalString,
  RESPONSES_RETENTION_DAYS: positiveInt,
  LEDGER_SIGNING_KEY: optionalString,
  LEDGER_ORIGIN: optionalString,
  LEDGER_PREVIOUS_PUBLIC_KEYS: optionalString,
  LEDGER_WITNESS_URL: optionalUrl,
  LEDGER_WITNESS_SECRET: optionalString,
  LEDGER_WITNESS_ALLOW_PRIVATE: boolFlag(false),
  LEDGER_CHECKPOINT_INTERVAL_SECONDS: integer(0, true, 60),
  EXPOSE_METRICS: boolFlag(false),
};
const KEYS = Object.keys(RULES) as Array<keyof Settings>;

const cache = new WeakMap<object, Settings>();

/**
 * Validated settings for an env object, parsed once per env (bindings are fixed per isolate).
 * A bad value fails the request with a 500 that names the variable, never its value (the first
 * bad one, in the order above).
 */
export function getSettings(env: Env): Settings {
  let settings = cache.get(env);
  if (!settings) {
    settings = parseSettings(env);
    cache.set(env, settings);
  }
  return settings;
}

/** `getSettings` without the cache: the string bindings parsed, anything else ignored. */
export function parseSettings(env: Env): Settings {
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const raw = env[key];
    const value = RULES[key](typeof raw === 'string' ? raw : undefined);
    if (value instanceof Invalid) throw new SettingsError(`invalid setting ${key}: ${value.message}`);
    if (value !== undefined || typeof raw === 'string') out[key] = value;
  }
  return out as unknown as Settings;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}
