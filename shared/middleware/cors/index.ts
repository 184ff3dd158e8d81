import type { Context, MiddlewareHandler, Next } from 'hono';
import { getSettings } from '../../env.ts';

/** What browsers may send: the OpenAI and Anthropic SDKs' headers and ours. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'openai-organization',
  'openai-project',
  'openai-beta',
  'anthropic-version',
  'anthropic-beta',
  'x-api-key',
  'x-mas-role',
  'x-correlation-id',
  'traceparent',
  'tracestate',
  'idempotency-key',
];
/** The openai SDK sends a family of these (`x-stainless-os`, `-retry-count`, `-timeout`...). */
const ALLOWED_PREFIX = 'x-stainless-';
const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
/** What page scripts may read; every `x-mas-*` header on the response is added to these. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-correlation-id',
  'retry-after',
  'server-timing',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
];

const parsed = new Map<string, { any: boolean; origins: Set<string> }>();

function originsOf(setting: string | undefined): { any: boolean; origins: Set<string> } | undefined {
  if (!setting) return undefined;
  let entry = parsed.get(setting);
  if (!entry) {
    const list = setting
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    entry = { any: list.includes('*'), origins: new Set(list) };
    parsed.set(setting, entry);
  }
  return entry;
}

/**
 * CORS for browser agents, configured by `CORS_ORIGINS` (comma-separated origins, or `*`; unset:
 * no CORS headers at all, so browsers keep the same-origin rule). A preflight is answered here,
 * before any route's auth: it carries no credentials by design. Keys travel in `Authorization`,
 * never in cookies, so `*` needs no credentials mode and is safe to offer.
 */
export function cors(): MiddlewareHandler {
  // Not async: a request without CORS to answer (no CORS_ORIGINS, or no Origin) makes no promise
  // of its own here and returns next()'s.
  return function corsMiddleware(c, next) {
    const config = originsOf(getSettings(c.env).CORS_ORIGINS);
    // Without CORS_ORIGINS the Origin header is not read at all: each read is a call into the runtime.
    if (!config) return next();
    const origin = c.req.header('origin');
    if (!origin) return next();
    return answerCors(c, next, config, origin);
  };
}

async function answerCors(
  c: Context,
  next: Next,
  config: { any: boolean; origins: Set<string> },
  origin: string,
): Promise<Response | undefined> {
  const allowed = config.any ? '*' : config.origins.has(origin) ? origin : undefined;
  if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method')) {
    const headers = new Headers({ vary: 'Origin, Access-Control-Request-Headers' });
    if (allowed) {
      const requested = (c.req.header('access-control-request-headers') ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h && (ALLOWED_HEADERS.includes(h) || h.startsWith(ALLOWED_PREFIX)));
      headers.set('access-control-allow-origin', allowed);
      headers.set('access-control-allow-methods', ALLOWED_METHODS);
      headers.set(
        'access-control-allow-headers',
        [...new Set([...ALLOWED_HEADERS, ...requested])].join(', '),
      );
      headers.set('access-control-max-age', '600');
    }
    return new Response(null, { status: 204, headers });
  }
  await next();
  if (!allowed) return;
  const res = c.res.headers;
  res.set('access-control-allow-origin', allowed);
  const mas = [...res.keys()].filter((h) => h.startsWith('x-mas-'));
  res.set('access-control-expose-headers', [...EXPOSED_HEADERS, ...mas].join(', '));
  if (!config.any) res.append('vary', 'Origin');
}
