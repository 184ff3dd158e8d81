/**
 * The I/O floor on workerd: the passthrough Worker (passthrough-worker.js) plus the I/O a gateway
 * has to do per request, made the way ours makes it, and nothing else (no auth, no validation,
 * no routing, no metrics, no logging, the body forwarded unread):
 * - the rate limiter's Redis command over Upstash REST, as shared/middleware/rate-limit does far
 *   from the limit: a count from Redis under a second old lets the request through at once, and
 *   the hits are sent as one command adding n at most every 250 ms (the first request waits);
 * - the usage row, gathered per isolate and written in one statement per 250 ms by
 *   shared/governance/usage-writer.ts's insertUsage, on a connection of shared/db's driver,
 *   the write held by the `waitUntil` of the request that opened the batch.
 * What ours spends over this floor is its own JavaScript and the runtime calls that JavaScript
 * makes; what this floor spends over the passthrough is the runtime's (and the drivers') cost of
 * the gateway's I/O. bench/lib/peer-process.ts bundles it with wrangler, as a deploy would.
 */
import { withPostgres } from '../../../shared/db/postgres.ts';
import type { Settings } from '../../../shared/env.ts';
import { insertUsage, type UsageRow } from '../../../shared/governance/usage-writer.ts';

interface FloorEnv {
  UPSTREAM: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  DATABASE_URL?: string;
  /** As ours' USAGE_FLUSH_MS: bench:isolate-start sets 0, so a first request's row is in its count. */
  USAGE_FLUSH_MS?: string;
}

/** Ours' figures (shared/middleware/rate-limit, shared/governance/usage-writer.ts). */
const VERDICT_FRESH_MS = 1000;
const RATE_FLUSH_MS = 250;
const USAGE_FLUSH_MS = 250;

let verdictAt = Number.NEGATIVE_INFINITY;
let unsentHits = 0;
let lastHitFlush = 0;
let hitFlush: Promise<void> | undefined;

async function countHits(env: FloorEnv, hits: number): Promise<void> {
  const window = Math.floor(Date.now() / 60_000);
  const res = await fetch(env.UPSTASH_REDIS_REST_URL!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}` },
    body: JSON.stringify(['incrby', `floor:ratelimit:bench:${window}`, hits]),
  });
  const reply = (await res.json()) as { result?: number; error?: string };
  if (reply.error) throw new Error(reply.error);
  verdictAt = Date.now();
}

async function rateLimit(env: FloorEnv, ctx: ExecutionContext): Promise<void> {
  if (!env.UPSTASH_REDIS_REST_URL) return;
  if (Date.now() - verdictAt >= VERDICT_FRESH_MS) {
    const hits = unsentHits + 1;
    unsentHits = 0;
    await countHits(env, hits);
    return;
  }
  unsentHits += 1;
  if (hitFlush) return;
  const wait = Math.max(0, lastHitFlush + RATE_FLUSH_MS - Date.now());
  hitFlush = new Promise((r) => setTimeout(r, wait)).then(async () => {
    hitFlush = undefined;
    lastHitFlush = Date.now();
    const hits = unsentHits;
    unsentHits = 0;
    if (hits) await countHits(env, hits);
  });
  ctx.waitUntil(hitFlush.catch(() => undefined));
}

let openRows: UsageRow[] | undefined;

function recordUsage(env: FloorEnv, ctx: ExecutionContext, endpoint: string): void {
  if (!env.DATABASE_URL) return;
  const row: UsageRow = {
    idempotency_key: crypto.randomUUID(),
    principal: 'bench-io-floor',
    agent_id: null,
    role: endpoint === 'embeddings' ? 'embedding' : 'fast',
    endpoint,
    provider: 'openai_compatible',
    model: 'fast',
    prompt_tokens: 9,
    completion_tokens: 5,
    cached_tokens: 0,
    cost_usd: null,
    cache_hit: false,
    correlation_id: null,
  };
  if (openRows && openRows.length < 200) {
    openRows.push(row);
    return;
  }
  const rows = [row];
  openRows = rows;
  const settings = { DATABASE_URL: env.DATABASE_URL } as Settings;
  const flushMs = env.USAGE_FLUSH_MS === undefined ? USAGE_FLUSH_MS : Number(env.USAGE_FLUSH_MS);
  const write = new Promise((r) => setTimeout(r, flushMs)).then(async () => {
    if (openRows === rows) openRows = undefined;
    await withPostgres(settings, (client) => insertUsage(client, rows), { connectTimeoutMs: 3000 });
  });
  ctx.waitUntil(write.catch((err) => console.error(`io floor: usage write failed: ${err}`)));
}

export default {
  async fetch(req: Request, env: FloorEnv, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(req.url);
    if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/embeddings'].includes(pathname))
      return new Response('not found', { status: 404 });
    await rateLimit(env, ctx);
    const headers = {
      'content-type': 'application/json',
      authorization: req.headers.get('authorization') ?? '',
    };
    const res = await fetch(env.UPSTREAM + pathname, { method: 'POST', headers, body: req.body });
    if (res.ok) recordUsage(env, ctx, pathname === '/v1/embeddings' ? 'embeddings' : 'chat');
    return res;
  },
} satisfies ExportedHandler<FloorEnv>;
