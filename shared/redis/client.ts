import { Redis } from '@upstash/redis/cloudflare';
import type { Settings } from '../env.ts';

const clients = new Map<string, Redis>();

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
    // One quick retry only: callers have their own deadlines and a fallback.
    client = new Redis({ url, token, retry: { retries: 1, backoff: () => 50 } });
    clients.set(url, client);
  }
  return client;
}
