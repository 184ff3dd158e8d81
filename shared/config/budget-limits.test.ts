import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { budgetLimits, budgetLimitsSchema, budgetLimitsShape } from './budget-limits.ts';

// The schema as it was built at module load before it went lazy: the lazy ones must accept,
// return and refuse exactly what it did.
const eager = z.strictObject({
  daily_usd: z.nullish(z.number().check(z.nonnegative())),
  monthly_usd: z.nullish(z.number().check(z.nonnegative())),
  tpm: z.nullish(z.number().check(z.int(), z.nonnegative())),
  rpm: z.nullish(z.number().check(z.int(), z.nonnegative())),
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

const KEYS = ['daily_usd', 'monthly_usd', 'tpm', 'rpm'];
const VALUES: unknown[] = [
  0,
  -0,
  1,
  7,
  12.5,
  0.01,
  -1,
  -0.5,
  1e9,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  null,
  undefined,
  '5',
  '',
  true,
  false,
  [],
  [1],
  {},
  { n: 1 },
  5n,
];

/** A limits object from valid values, then mutated: values swapped, keys dropped, added, renamed. */
function input(next: () => number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const roll = next();
  if (roll < 0.04) return pick([null, undefined, 'limits', 3, true, [], [{ tpm: 1 }], new Date(0)]);
  const obj: Record<string, unknown> = {};
  for (const key of KEYS) {
    if (next() < 0.35) continue;
    obj[key] = key === 'tpm' || key === 'rpm' ? Math.floor(next() * 1e6) : Math.round(next() * 1e5) / 100;
  }
  for (let mutations = Math.floor(next() * 4); mutations > 0; mutations--) {
    const kind = next();
    if (kind < 0.55) obj[pick(KEYS)] = pick(VALUES);
    else if (kind < 0.7) delete obj[pick(KEYS)];
    else if (kind < 0.85) obj[pick(['tokens', 'daily', 'TPM', 'extra', '__proto__x', ''])] = pick(VALUES);
    else obj[pick(KEYS)] = -(next() * 100);
  }
  return obj;
}

type Outcome = { success: true; data: unknown } | { success: false; issues: unknown };
const outcome = (schema: z.ZodMiniType, value: unknown): Outcome => {
  const r = schema.safeParse(value);
  return r.success ? { success: true, data: r.data } : { success: false, issues: r.error.issues };
};

describe('budget limits, built on first use', () => {
  it('accept, return and refuse exactly what the eager schema did, on 30,000 mutated inputs', () => {
    const next = random(23);
    const lazyOnes: Array<[string, z.ZodMiniType, z.ZodMiniType]> = [
      ['budgetLimits()', budgetLimits(), eager],
      ['budgetLimitsSchema', budgetLimitsSchema, eager],
      // As the gateway config's schema wraps it (budgets.defaults.*).
      ['_default(budgetLimitsSchema)', z._default(budgetLimitsSchema, {}), z._default(eager, {})],
    ];
    const seen = { valid: 0, invalid: 0, codes: new Set<string>() };
    const mismatches: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const value = input(next);
      const want = outcome(eager, value);
      if (want.success) seen.valid++;
      else {
        seen.invalid++;
        for (const issue of want.issues as Array<{ code: string }>) seen.codes.add(issue.code);
      }
      for (const [name, schema, reference] of lazyOnes) {
        const got = outcome(schema, value);
        const ref = reference === eager ? want : outcome(reference, value);
        if (!isDeepStrictEqual(got, ref) && mismatches.length < 5) {
          mismatches.push(`${name} on input #${i}: ${String(JSON.stringify(value))}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The inputs reached both sides of the schema and each way of refusing.
    expect(seen.valid).toBeGreaterThan(7_000);
    expect(seen.invalid).toBeGreaterThan(7_000);
    expect([...seen.codes].sort()).toEqual(['invalid_type', 'too_big', 'too_small', 'unrecognized_keys']);
  });

  it('builds once: the getter answers the same schema every time, the one budgetLimitsSchema wraps', () => {
    expect(budgetLimits()).toBe(budgetLimits());
    expect(budgetLimitsSchema._zod.def.getter()).toBe(budgetLimits());
  });

  it('makes a fresh shape on each call, with the four limits', () => {
    const shape = budgetLimitsShape();
    expect(Object.keys(shape)).toEqual(KEYS);
    expect(budgetLimitsShape().tpm).not.toBe(shape.tpm);
  });
});
