import type { ReadyCheckName } from '../config/index.ts';
import { withPostgres } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { AppError } from '../errors/app-error.ts';
import { openCircuits } from '../llm/circuit-breaker.ts';
import { getRedis } from '../redis/client.ts';

export type CheckStatus = 'ok' | 'fail' | 'disabled';

export interface CheckResult {
  status: CheckStatus;
  latency_ms?: number;
  /** Short reason, never a URL with credentials or an upstream body. */
  error?: string;
  /** Whether a failure of this check makes /ready answer 503. */
  required: boolean;
  /** What was checked, e.g. `qdrant` or `pgvector`. */
  backend?: string;
  /** llm_upstream: circuits that are open or half-open (`provider:model open, next probe in 4 s`). */
  circuits?: string[];
}

interface Probe {
  backend?: string;
  /**
   * Reported but never failing readiness: a Postgres without pgvector serves everything except
   * vector memory, whose endpoints answer 503 naming the fix.
   */
  advisory?: boolean;
  /** Resolves when healthy; rejects with a short reason. `signal` fires at the deadline. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * The probes for what is configured; an unconfigured dependency is `disabled`, never `fail`.
 * Postgres and pgvector share one connection and one statement.
 */
export function configuredProbes(settings: Settings): Record<ReadyCheckName, Probe | undefined> {
  const redis = getRedis(settings);
  let postgres: Promise<{ vector: boolean }> | undefined;
  const askPostgres = () =>
    (postgres ??= withPostgres(settings, async (client) => {
      const { rows } = await client.query<{ vector: boolean }>(
        "select exists (select 1 from pg_available_extensions where name = 'vector') as vector",
      );
      return { vector: rows[0]?.vector === true };
    }));
  return {
    postgres: settings.DATABASE_URL
      ? {
          run: async () => {
            await askPostgres();
          },
        }
      : undefined,
    redis: redis
      ? {
          run: async () => {
            const pong = await redis.ping();
            if (pong !== 'PONG') throw new Error(`unexpected PING reply`);
          },
        }
      : undefined,
    vector_store: settings.QDRANT_URL
      ? {
          backend: 'qdrant',
          run: (signal) =>
            httpProbe(`${trimSlash(settings.QDRANT_URL!)}/readyz`, signal, qdrantHeaders(settings)),
        }
      : settings.DATABASE_URL
        ? {
            backend: 'pgvector',
            advisory: true,
            run: async () => {
              if (!(await askPostgres()).vector) {
                throw new Error(
                  'pgvector extension is not available on this Postgres; set QDRANT_URL or install pgvector',
                );
              }
            },
          }
        : undefined,
    llm_upstream: settings.LLM_BASE_URL
      ? {
          run: (signal) =>
            httpProbe(settings.LLM_HEALTH_URL ?? `${trimSlash(settings.LLM_BASE_URL!)}/models`, signal),
        }
      : undefined,
  };
}

/**
 * Runs every probe in parallel, each under its own deadline, so one hung dependency costs at most
 * `timeoutMs` and never hides the others' answers.
 */
export async function runReadyChecks(
  settings: Settings,
  options: { timeoutMs: number; required: readonly ReadyCheckName[] },
): Promise<{ ready: boolean; checks: Record<ReadyCheckName, CheckResult> }> {
  const probes = configuredProbes(settings);
  const names = Object.keys(probes) as ReadyCheckName[];
  const results = await Promise.all(
    names.map(async (name): Promise<[ReadyCheckName, CheckResult]> => {
      const probe = probes[name];
      const required = options.required.includes(name) && !probe?.advisory;
      if (!probe) return [name, { status: 'disabled', required: options.required.includes(name) }];
      const started = Date.now();
      const controller = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`timed out after ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      });
      try {
        await Promise.race([probe.run(controller.signal), deadline]);
        return [name, { status: 'ok', latency_ms: Date.now() - started, required, backend: probe.backend }];
      } catch (err) {
        return [
          name,
          {
            status: 'fail',
            latency_ms: Date.now() - started,
            error: shortReason(err),
            required,
            backend: probe.backend,
          },
        ];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const checks = Object.fromEntries(results) as Record<ReadyCheckName, CheckResult>;
  const ready = results.every(([, r]) => !r.required || r.status !== 'fail');
  // Reported, never failing readiness: the router already routes around an open circuit.
  const circuits = await circuitLines(getRedis(settings));
  if (circuits.length && checks.llm_upstream) checks.llm_upstream.circuits = circuits;
  return { ready, checks };
}

/** This isolate's open circuits, and (one bounded SCAN) those other isolates opened in Redis. */
async function circuitLines(redis: ReturnType<typeof getRedis>): Promise<string[]> {
  const now = Date.now();
  const lines = new Map<string, string>();
  const line = (key: string, until: number) =>
    now < until ? `${key} open, next probe in ${Math.ceil((until - now) / 1000)} s` : `${key} half-open`;
  if (redis) {
    try {
      const [, keys] = await redis.scan(0, { match: 'mas:cb:*:state', count: 1000 });
      if (keys.length) {
        const states = await redis.mget<unknown[]>(...keys);
        keys.forEach((k, i) => {
          const key = k.slice('mas:cb:'.length, -':state'.length);
          lines.set(key, line(key, Number(String(states[i] ?? '').split(':')[0])));
        });
      }
    } catch {
      // Redis unreachable: the redis check says so; report what this isolate knows.
    }
  }
  for (const c of openCircuits(now))
    if (!lines.has(c.key)) lines.set(c.key, line(c.key, now + c.retryAfterMs));
  return [...lines.values()].sort();
}

async function httpProbe(url: string, signal: AbortSignal, headers?: Record<string, string>): Promise<void> {
  const res = await fetch(url, { signal, headers });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

function qdrantHeaders(settings: Settings): Record<string, string> | undefined {
  return settings.QDRANT_API_KEY ? { 'api-key': settings.QDRANT_API_KEY } : undefined;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * First line of the innermost cause, cut short; the redactor scrubs it again on the way out. An
 * AppError's message is the part written for callers (/ready needs no key); its cause is for the
 * log only (Postgres's names the host, port, user and database).
 */
function shortReason(err: unknown): string {
  if (err instanceof AppError) return err.message;
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  const outer = err instanceof Error ? err.message : String(err);
  const inner = e instanceof Error ? e.message : String(e);
  const text = inner && inner !== outer ? `${outer}: ${inner}` : outer;
  return (text.split('\n')[0] ?? '').slice(0, 200);
}
