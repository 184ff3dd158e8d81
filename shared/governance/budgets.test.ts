import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatewayConfig } from '../config/index.ts';
import type { Settings } from '../env.ts';
import { type BudgetRow, budgetsFor, forgetBudgets } from './budgets.ts';

/** What Postgres holds, and every read made of it (the subjects asked), for withPostgres's stand-in. */
const db = vi.hoisted(() => ({
  rows: [] as BudgetRow[],
  reads: [] as string[][],
  fail: false,
  /** Reads wait for this, when set, so a test can look between the start and the end of one. */
  gate: undefined as Promise<void> | undefined,
}));

vi.mock('../db/postgres.ts', () => ({
  withPostgres: async (_settings: unknown, run: (client: unknown) => Promise<unknown>) => {
    const client = {
      query: async (_text: string, [scopes, ids]: [string[], string[]]) => {
        db.reads.push(scopes.map((s, i) => `${s}:${ids[i]}`));
        await db.gate;
        if (db.fail) throw new Error('connection refused');
        return {
          rows: db.rows.filter((r) => scopes.some((s, i) => s === r.scope && ids[i] === r.id)),
        };
      },
    };
    return run(client);
  },
}));

const settings = { DATABASE_URL: 'postgres://stand-in/db' } as Settings;
const row = (id: string, rpm: number): BudgetRow => ({
  scope: 'principal',
  id,
  daily_usd: null,
  monthly_usd: null,
  tpm: null,
  rpm,
  updated_at: new Date(0),
  updated_by: 'test',
});
const rpmOf = (budgets: Awaited<ReturnType<typeof budgetsFor>>) => budgets.map((b) => b.limits.rpm);

describe('budgetsFor: the per-isolate cache', () => {
  const ttlSeconds = gatewayConfig.budgets.cache_seconds;
  let id: string;
  let subjects: Array<{ scope: 'principal'; id: string }>;
  let background: Array<Promise<unknown>>;
  const keep = (work: Promise<unknown>) => void background.push(work);

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    gatewayConfig.budgets.cache_seconds = 5;
    forgetBudgets();
    id = `key-${Math.random()}`;
    subjects = [{ scope: 'principal', id }];
    background = [];
    db.rows = [row(id, 10)];
    db.reads = [];
    db.fail = false;
    db.gate = undefined;
  });
  afterEach(() => {
    gatewayConfig.budgets.cache_seconds = ttlSeconds;
    vi.useRealTimers();
  });

  it('reads an unknown subject before answering, then answers from the cache without a promise', async () => {
    const first = budgetsFor(settings, subjects, undefined, keep);
    expect(first).toBeInstanceOf(Promise);
    expect(rpmOf(await first)).toEqual([10]);
    vi.setSystemTime(1_004_999);
    const cached = budgetsFor(settings, subjects, undefined, keep);
    expect(Array.isArray(cached)).toBe(true);
    expect(rpmOf(cached as Awaited<typeof cached>)).toEqual([10]);
    expect(db.reads).toHaveLength(1);
    expect(background).toHaveLength(0);
  });

  it('answers an expired entry at once and re-reads it once in the background', async () => {
    await budgetsFor(settings, subjects, undefined, keep);
    db.rows = [row(id, 3)];
    vi.setSystemTime(1_005_000);
    let open!: () => void;
    db.gate = new Promise((resolve) => (open = resolve));
    const stale = budgetsFor(settings, subjects, undefined, keep);
    expect(Array.isArray(stale)).toBe(true);
    expect(rpmOf(stale as Awaited<typeof stale>)).toEqual([10]);
    expect(background).toHaveLength(1);
    // While that re-read is in flight, other requests get the stale entry and start no other.
    const meanwhile = budgetsFor(settings, subjects, undefined, keep);
    expect(rpmOf(meanwhile as Awaited<typeof meanwhile>)).toEqual([10]);
    expect(background).toHaveLength(1);
    open();
    await Promise.all(background);
    expect(db.reads).toEqual([[`principal:${id}`], [`principal:${id}`]]);
    const fresh = budgetsFor(settings, subjects, undefined, keep);
    expect(rpmOf(fresh as Awaited<typeof fresh>)).toEqual([3]);
    expect(db.reads).toHaveLength(2);
  });

  it('reads before answering an entry older than twice cache_seconds, or any expired one without background', async () => {
    await budgetsFor(settings, subjects, undefined, keep);
    db.rows = [row(id, 4)];
    vi.setSystemTime(1_010_000);
    const idle = budgetsFor(settings, subjects, undefined, keep);
    expect(idle).toBeInstanceOf(Promise);
    expect(rpmOf(await idle)).toEqual([4]);
    db.rows = [row(id, 5)];
    vi.setSystemTime(1_015_000);
    const noBackground = budgetsFor(settings, subjects);
    expect(noBackground).toBeInstanceOf(Promise);
    expect(rpmOf(await noBackground)).toEqual([5]);
    expect(background).toHaveLength(0);
  });

  it('keeps the stale entry when the background re-read fails, says so, and tries again on the next request', async () => {
    await budgetsFor(settings, subjects, undefined, keep);
    db.fail = true;
    vi.setSystemTime(1_006_000);
    const onStale = vi.fn();
    const stale = budgetsFor(settings, subjects, onStale, keep);
    expect(rpmOf(stale as Awaited<typeof stale>)).toEqual([10]);
    await Promise.all(background);
    expect(onStale).toHaveBeenCalledTimes(1);
    db.fail = false;
    db.rows = [row(id, 7)];
    const again = budgetsFor(settings, subjects, onStale, keep);
    expect(rpmOf(again as Awaited<typeof again>)).toEqual([10]);
    expect(background).toHaveLength(2);
    await Promise.all(background);
    expect(rpmOf(budgetsFor(settings, subjects, onStale, keep) as Awaited<typeof again>)).toEqual([7]);
    expect(db.reads).toHaveLength(3);
  });

  it('puts expired entries into the read an unknown subject needs anyway, in the foreground', async () => {
    await budgetsFor(settings, subjects, undefined, keep);
    vi.setSystemTime(1_006_000);
    const other = `agent-${Math.random()}`;
    db.rows = [row(id, 8)];
    const both = budgetsFor(settings, [...subjects, { scope: 'principal', id: other }], undefined, keep);
    expect(both).toBeInstanceOf(Promise);
    expect(rpmOf(await both)).toEqual([8]);
    expect(db.reads).toHaveLength(2);
    expect([...db.reads[1]!].sort()).toEqual([`principal:${id}`, `principal:${other}`].sort());
    expect(background).toHaveLength(0);
  });
});
