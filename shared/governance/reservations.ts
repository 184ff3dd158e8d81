import type { UpstashRedis as Redis } from '../redis/upstash-rest.ts';

/**
 * Budget counters with reservations. A request reserves its worst case on every limit that
 * applies to it (the key's, the agent's and the role's: dollars per day and month, tokens and
 * requests per minute) in ONE atomic step, so 100 concurrent requests cannot all pass a budget
 * that fits ten; after the answer the reservation is settled to what was really used. A
 * reservation that is never settled (the isolate died) lapses at its expiry and stops counting.
 *
 * Per counter: a hash `{s: settled, reserved: sum of live reservations, r:<id>: amount}` and a
 * sorted set of reservation ids by expiry. Shared through Redis (one Lua script per step);
 * without Redis the same logic runs per isolate (approximate across isolates, documented).
 */

export type LimitKind = 'daily_usd' | 'monthly_usd' | 'tpm' | 'rpm';

export interface LimitCheck {
  /** Counter key, e.g. `mas:budget:principal:alice:usd:d:2026-12-01`. */
  key: string;
  kind: LimitKind;
  scope: string;
  id: string;
  /** In the counter's unit: nano-USD, tokens, or requests. */
  limit: number;
  /** The worst case this request reserves. */
  amount: number;
  /** When the counter's period ends (ms since epoch): its keys expire a little after. */
  resetAt: number;
  /** Dollar counters are rebuilt from the usage rows in Postgres when Redis lost them. */
  rebuildable: boolean;
}

export type ReserveOutcome =
  /** `used[i]`: what `checks[i]` had counted before this reservation. */
  | { status: 'ok'; used: number[] }
  | { status: 'over'; check: LimitCheck; used: number }
  | { status: 'rebuild'; check: LimitCheck };

export interface Reservations {
  reserve(reservationId: string, checks: LimitCheck[], expiresAt: number): Promise<ReserveOutcome>;
  /** `actual[i]` replaces the reservation on `checks[i]` (the real spend, tokens or 1 request). */
  settle(reservationId: string, checks: LimitCheck[], actual: number[]): Promise<void>;
  /** Seeds a lost dollar counter with the spend Postgres knows; no-op if it exists again. */
  seed(check: LimitCheck, settled: number): Promise<void>;
}

const KEY_GRACE_SECONDS = 3600;
const ttlSeconds = (c: LimitCheck, now: number) =>
  Math.max(1, Math.ceil((c.resetAt - now) / 1000)) + KEY_GRACE_SECONDS;

// KEYS: per check, the hash then the zset. ARGV: now, reservation id, its expiry, then per check
// limit, amount, ttl, rebuildable. Returns {1, used per check} | {0, i, used} | {-1, i}.
const RESERVE = `
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local rexp = ARGV[3]
local n = (#KEYS) / 2
local seen = {1}
for i = 1, n do
  local h, z = KEYS[2*i-1], KEYS[2*i]
  local b = 3 + (i-1)*4
  if ARGV[b+4] == '1' and redis.call('HEXISTS', h, 's') == 0 then return {-1, i} end
  local stale = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, id in ipairs(stale) do
    local a = redis.call('HGET', h, 'r:' .. id)
    if a and a ~= '0' then redis.call('HINCRBY', h, 'reserved', '-' .. a) end
    redis.call('HDEL', h, 'r:' .. id)
    redis.call('ZREM', z, id)
  end
  local used = tonumber(redis.call('HGET', h, 's') or '0') + tonumber(redis.call('HGET', h, 'reserved') or '0')
  if used + tonumber(ARGV[b+2]) > tonumber(ARGV[b+1]) then return {0, i, used} end
  seen[i + 1] = used
end
for i = 1, n do
  local h, z = KEYS[2*i-1], KEYS[2*i]
  local b = 3 + (i-1)*4
  -- Amounts stay the decimal strings JavaScript sent: Lua would print big numbers as 1e+15.
  redis.call('HINCRBY', h, 'reserved', ARGV[b+2])
  redis.call('HSET', h, 'r:' .. rid, ARGV[b+2])
  redis.call('ZADD', z, rexp, rid)
  redis.call('EXPIRE', h, ARGV[b+3])
  redis.call('EXPIRE', z, ARGV[b+3])
end
return seen
`;

// KEYS as above; ARGV: reservation id, then per check actual, ttl.
const SETTLE = `
local rid = ARGV[1]
local n = (#KEYS) / 2
for i = 1, n do
  local h, z = KEYS[2*i-1], KEYS[2*i]
  local a = redis.call('HGET', h, 'r:' .. rid)
  if a then
    if a ~= '0' then redis.call('HINCRBY', h, 'reserved', '-' .. a) end
    redis.call('HDEL', h, 'r:' .. rid)
    redis.call('ZREM', z, rid)
  end
  redis.call('HINCRBY', h, 's', ARGV[2*i])
  redis.call('EXPIRE', h, ARGV[2*i+1])
end
return 1
`;

const SEED = `
if redis.call('HSETNX', KEYS[1], 's', ARGV[1]) == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
return 1
`;

/** A whole, non-negative, safe integer as Redis reads it (never an exponent). */
const int = (n: number) => String(Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.round(n))));

const keysOf = (checks: LimitCheck[]) => checks.flatMap((c) => [c.key, `${c.key}:z`]);

export function redisReservations(redis: Redis): Reservations {
  const reserve = redis.createScript<number[]>(RESERVE);
  const settle = redis.createScript<number>(SETTLE);
  const seed = redis.createScript<number>(SEED);
  return {
    async reserve(rid, checks, expiresAt) {
      if (!checks.length) return { status: 'ok', used: [] };
      const now = Date.now();
      const args = [String(now), rid, String(expiresAt)];
      for (const c of checks) {
        args.push(int(c.limit), int(c.amount), String(ttlSeconds(c, now)), c.rebuildable ? '1' : '0');
      }
      const result = await reserve.exec(keysOf(checks), args);
      return outcome(result, checks);
    },
    async settle(rid, checks, actual) {
      if (!checks.length) return;
      const now = Date.now();
      const args = [rid];
      checks.forEach((c, i) => {
        args.push(int(actual[i] ?? 0), String(ttlSeconds(c, now)));
      });
      await settle.exec(keysOf(checks), args);
    },
    async seed(check, settled) {
      await seed.exec([check.key], [int(settled), String(ttlSeconds(check, Date.now()))]);
    },
  };
}

function outcome(result: number[], checks: LimitCheck[]): ReserveOutcome {
  const [code, index, used] = result.map(Number);
  if (code === 1) return { status: 'ok', used: result.slice(1).map(Number) };
  const check = checks[(index ?? 1) - 1] as LimitCheck;
  if (code === -1) return { status: 'rebuild', check };
  return { status: 'over', check, used: used ?? 0 };
}

interface LocalCounter {
  settled: number;
  reservations: Map<string, { amount: number; expiresAt: number }>;
  expiresAt: number;
}

/**
 * The same counters in this isolate's memory, for deployments without Redis: exact within one
 * isolate, approximate across several (each enforces the whole budget alone). Bounded: counters
 * of ended periods are dropped.
 */
export function localReservations(): Reservations {
  const counters = new Map<string, LocalCounter>();
  const counter = (c: LimitCheck, now: number): LocalCounter => {
    let entry = counters.get(c.key);
    if (!entry || entry.expiresAt <= now) {
      if (counters.size > 50_000) {
        for (const [k, v] of counters) if (v.expiresAt <= now) counters.delete(k);
      }
      entry = { settled: 0, reservations: new Map(), expiresAt: c.resetAt };
      counters.set(c.key, entry);
    }
    return entry;
  };
  const used = (entry: LocalCounter, now: number) => {
    let total = entry.settled;
    for (const [id, r] of entry.reservations) {
      if (r.expiresAt <= now) entry.reservations.delete(id);
      else total += r.amount;
    }
    return total;
  };
  return {
    async reserve(rid, checks, expiresAt) {
      const now = Date.now();
      const seen: number[] = [];
      for (const c of checks) {
        const u = used(counter(c, now), now);
        if (u + c.amount > c.limit) return { status: 'over', check: c, used: u };
        seen.push(u);
      }
      for (const c of checks) counter(c, now).reservations.set(rid, { amount: c.amount, expiresAt });
      return { status: 'ok', used: seen };
    },
    async settle(rid, checks, actual) {
      const now = Date.now();
      checks.forEach((c, i) => {
        const entry = counter(c, now);
        entry.reservations.delete(rid);
        entry.settled += Math.max(0, actual[i] ?? 0);
      });
    },
    async seed() {
      // Nothing is lost per isolate except with the isolate itself.
    },
  };
}
