import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { BUDGET_SCOPES } from './budgets.ts';
import { usageQuery, usageQuerySchema } from './usage-query.ts';

// The schema as it was built at module load before it went lazy: the lazy ones must accept,
// return and refuse exactly what it did.
const eager = z.strictObject({
  scope: z._default(z.enum(BUDGET_SCOPES as ['principal', 'agent', 'role']), 'principal'),
  id: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  since: z.optional(z.iso.datetime({ offset: true })),
  until: z.optional(z.iso.datetime({ offset: true })),
  group_by: z._default(z.enum(['day', 'model']), 'day'),
});

/** A seeded generator (mulberry32), so a failure names an input that comes back. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['scope', 'id', 'since', 'until', 'group_by'];
const SCOPES = ['principal', 'agent', 'role', 'Principal', 'agents', 'admin', '', ' role'];
const GROUPS = ['day', 'model', 'Day', 'month', 'models', '', 'day '];
const DATES = [
  '2026-12-02T07:00:00Z',
  '2026-12-02T07:00:00.123Z',
  '2026-12-02T07:00:00.123456789Z',
  '2026-12-02T07:00:00+01:00',
  '2026-12-02T07:00:00-05:30',
  '2026-12-02T07:00Z',
  '2026-12-02T07:00:00',
  '2026-12-02T07:00:00+0100',
  '2026-12-02T07:00:00+01',
  '2026-12-02',
  '2026-13-02T07:00:00Z',
  '2026-02-30T07:00:00Z',
  '2026-12-02T24:00:00Z',
  '2026-12-02T23:59:60Z',
  '2026-12-02 07:00:00Z',
  '2026-12-02t07:00:00z',
  '1e400',
  'yesterday',
  '',
];
const ODD: unknown[] = [undefined, null, 0, 1, true, [], ['day'], {}, 'x'.repeat(201), '\u0000', '🙂'];

/** A query as c.req.query() gives it (strings), then mutated: values swapped, keys dropped, added. */
function input(next: () => number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const roll = next();
  if (roll < 0.03)
    return pick([null, undefined, 'scope=agent', 3, true, [], [{ scope: 'agent' }], new Date(0)]);
  const obj: Record<string, unknown> = {};
  if (next() < 0.6) obj.scope = pick(BUDGET_SCOPES);
  if (next() < 0.6) obj.id = `key-${Math.floor(next() * 1e6)}`.slice(0, 1 + Math.floor(next() * 12));
  if (next() < 0.5) obj.since = pick(DATES.slice(0, 5));
  if (next() < 0.5) obj.until = pick(DATES.slice(0, 5));
  if (next() < 0.6) obj.group_by = pick(['day', 'model']);
  for (let mutations = Math.floor(next() * 4); mutations > 0; mutations--) {
    const kind = next();
    const key = pick(KEYS);
    if (kind < 0.15) obj.scope = pick(SCOPES);
    else if (kind < 0.3) obj.group_by = pick(GROUPS);
    else if (kind < 0.45) obj[pick(['since', 'until'])] = pick(DATES);
    else if (kind < 0.55) obj.id = 'i'.repeat(pick([0, 1, 2, 199, 200, 201, 500]));
    else if (kind < 0.7) obj[key] = pick(ODD);
    else if (kind < 0.85) delete obj[key];
    else obj[pick(['from', 'to', 'groupBy', 'Scope', 'limit', ''])] = pick(['1', '', 'day']);
  }
  return obj;
}

type Outcome = { success: true; data: unknown } | { success: false; issues: unknown };
const outcome = (schema: z.ZodMiniType, value: unknown): Outcome => {
  const r = schema.safeParse(value);
  return r.success ? { success: true, data: r.data } : { success: false, issues: r.error.issues };
};

describe('usage query, built on first use', () => {
  it('accepts, returns and refuses exactly what the eager schema did, on 40,000 mutated inputs', () => {
    const next = random(23);
    const lazyOnes: Array<[string, z.ZodMiniType]> = [
      ['usageQuery()', usageQuery()],
      ['usageQuerySchema', usageQuerySchema],
    ];
    const seen = { valid: 0, invalid: 0, codes: new Set<string>(), defaulted: 0 };
    const mismatches: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      const value = input(next);
      const want = outcome(eager, value);
      if (want.success) {
        seen.valid++;
        const raw = value as Record<string, unknown>;
        if (raw.scope === undefined || raw.group_by === undefined) seen.defaulted++;
      } else {
        seen.invalid++;
        for (const issue of want.issues as Array<{ code: string }>) seen.codes.add(issue.code);
      }
      for (const [name, schema] of lazyOnes) {
        if (!isDeepStrictEqual(outcome(schema, value), want) && mismatches.length < 5) {
          mismatches.push(`${name} on input #${i}: ${String(JSON.stringify(value))}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The inputs reached both sides of the schema, its defaults and each way of refusing.
    expect(seen.valid).toBeGreaterThan(10_000);
    expect(seen.invalid).toBeGreaterThan(10_000);
    expect(seen.defaulted).toBeGreaterThan(3_000);
    expect([...seen.codes].sort()).toEqual([
      'invalid_format',
      'invalid_type',
      'invalid_value',
      'too_big',
      'too_small',
      'unrecognized_keys',
    ]);
  });

  it('builds once: the getter answers the same schema every time, the one usageQuerySchema wraps', () => {
    expect(usageQuery()).toBe(usageQuery());
    expect(usageQuerySchema._zod.def.getter()).toBe(usageQuery());
  });
});
