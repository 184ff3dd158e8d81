import { Redis } from '@upstash/redis/cloudflare';
import type { Settings } from '../env.ts';

const clients = new Map<string, Redis>();
/** Longest wait for one Redis command; the rate limiter's own deadline is the same. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;

/**
 * The Upstash REST client (plain fetch, so it works on Workers and Deno), one per isolate. Locally
 * `npm start` runs a bridge that speaks the same protocol to a real Redis. `undefined` when Redis
 * is not configured: callers then degrade to per-isolate state.
 */
export function getRedis(settings: Settings): Redis | undefined {
  const url = settings.UPSTASH_REDIS_REST_URL;
  const token = settings.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) return undefined;
  let client = clients.get(url);
  if (!client) {
    // One quick retry only, and a deadline on every command: a Redis that hangs must not hang
    // the request (circuit checks, long-poll wake-ups); callers fall back to per-isolate state.
    client = new Redis({
      url,
      token,
      retry: { retries: 1, backoff: () => 50 },
      signal: () => AbortSignal.timeout(REDIS_COMMAND_TIMEOUT_MS),
    });
    clients.set(url, client);
  }
  return client;
}
