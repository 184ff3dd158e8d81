import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, canonicalJson, chainHash, GENESIS_HASH, type HashedEntry } from './ledger-hash.ts';
import { LedgerVerifier, type VerifyResult } from './ledger-verify.ts';

// JSON as Postgres jsonb hands it back: any Unicode text, but no -0 (jsonb stores 0).
const jsonValue = fc
  .jsonValue({ stringUnit: 'grapheme', maxDepth: 3 })
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const jsonObject = fc.dictionary(fc.string({ maxLength: 12 }), jsonValue, { maxKeys: 6 });
const short = fc.string({ minLength: 1, maxLength: 24 });
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

const entry: fc.Arbitrary<HashedEntry> = fc.record({
  id: fc.uuid(),
  action_id: fc.uuid(),
  entry_type: fc.constantFrom('action', 'status', 'approval', 'decision', 'expired'),
  created_at: fc
    .date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  agent_id: short,
  agent_name: nullable(short),
  action_type: short,
  category: short,
  tool_name: nullable(short),
  inputs: jsonObject,
  outputs: nullable(jsonValue),
  error: nullable(fc.string({ maxLength: 40 })),
  status: short,
  correlation_id: nullable(short),
  trace_id: nullable(fc.stringMatching(/^[0-9a-f]{32}$/)),
  principal: nullable(short),
  policy_version: fc.stringMatching(/^[0-9a-f]{16}$/),
  approval_bypassed: fc.boolean(),
  redaction_rules: fc.array(short, { maxLength: 3 }),
  detail: nullable(jsonObject),
});

/** The same JSON with every object's keys in another order (what jsonb or another writer may do). */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => reorder(v, seed + i));
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    const rotated = keys.map((_, i) => keys[(i + seed) % keys.length]!).reverse();
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a "__proto__" key (valid JSON) must stay an own key.
    for (const k of rotated) {
      Object.defineProperty(out, k, {
        value: reorder((value as Record<string, unknown>)[k], seed + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

interface Row extends HashedEntry {
  seq: number;
  prev_hash: string;
  row_hash: string;
}

function buildChain(entries: HashedEntry[]): Row[] {
  let prev = GENESIS_HASH;
  return entries.map((e, i) => {
    const row_hash = chainHash(prev, canonicalEntry(e));
    const row = { ...e, seq: i + 1, prev_hash: prev, row_hash };
    prev = row_hash;
    return row;
  });
}

/** Feeds rows as the store returns them (bigint seq as text, timestamptz as Date) to the verifier. */
async function verifyRows(rows: Row[]): Promise<VerifyResult> {
  const verifier = await LedgerVerifier.create({ checkpoints: [] });
  for (const r of [...rows].sort((a, b) => a.seq - b.seq)) {
    if (!verifier.row({ ...r, seq: String(r.seq), created_at: new Date(r.created_at) })) break;
  }
  return verifier.finish();
}

/** One field of one row changed to a value that means something else. */
const edit = fc.record({
  field: fc.constantFrom<keyof Row>(
    'id',
    'action_id',
    'entry_type',
    'created_at',
    'agent_id',
    'agent_name',
    'action_type',
    'category',
    'tool_name',
    'inputs',
    'outputs',
    'error',
    'status',
    'correlation_id',
    'trace_id',
    'principal',
    'policy_version',
    'approval_bypassed',
    'redaction_rules',
    'detail',
    'prev_hash',
    'row_hash',
  ),
  extra: fc.string({ minLength: 1, maxLength: 8 }),
});

function applyEdit(row: Row, field: keyof Row, extra: string): Row {
  const value = row[field];
  const out = { ...row } as Record<string, unknown>;
  if (field === 'created_at') out[field] = new Date(Date.parse(row.created_at) + 1).toISOString();
  else if (field === 'entry_type') out[field] = row.entry_type === 'action' ? 'status' : 'action';
  else if (field === 'prev_hash' || field === 'row_hash')
    out[field] = `${(value as string).slice(0, -1)}${(value as string).endsWith('0') ? '1' : '0'}`;
  else if (typeof value === 'boolean') out[field] = !value;
  else if (typeof value === 'string') out[field] = value + extra;
  else if (value === null) out[field] = field === 'inputs' || field === 'detail' ? { extra } : extra;
  else if (Array.isArray(value)) out[field] = [...value, extra];
  else out[field] = { tampered: extra, was: value };
  return out as unknown as Row;
}

describe('canonical JSON of a ledger entry', () => {
  it('does not depend on key order or whitespace', () => {
    fc.assert(
      fc.property(entry, fc.nat(7), (e, seed) => {
        const shuffled = reorder(e, seed) as HashedEntry;
        const pretty = JSON.parse(JSON.stringify(shuffled, null, 2)) as HashedEntry;
        expect(canonicalEntry(shuffled)).toBe(canonicalEntry(e));
        expect(canonicalEntry(pretty)).toBe(canonicalEntry(e));
      }),
      { numRuns: 400 },
    );
  });

  it('is sorted, compact JSON that reads back as the same entry', () => {
    fc.assert(
      fc.property(entry, (e) => {
        const text = canonicalEntry(e);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(e)));
        expect(text).toBe(canonicalEntry(JSON.parse(text) as HashedEntry));
        const keys = Object.keys(JSON.parse(text) as object);
        expect(keys).toEqual([...keys].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('tells different entries apart', () => {
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        const same = JSON.stringify(reorder(a, 0)) === JSON.stringify(reorder(b, 0));
        fc.pre(!same);
        expect(canonicalEntry(a)).not.toBe(canonicalEntry(b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the hash chain (LedgerVerifier over generated ledgers)', () => {
  it('an untouched chain verifies, whatever key order the store returns', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 12 }), fc.nat(5), async (entries, seed) => {
        const rows = buildChain(entries).map((r) => ({
          ...r,
          inputs: reorder(r.inputs, seed),
          detail: reorder(r.detail, seed + 1),
        }));
        expect(await verifyRows(rows)).toEqual({ ok: true, checked: rows.length, checkpoints: 0 });
      }),
      { numRuns: 200 },
    );
  });

  it('any single edit to any row fails verification at that row', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entry, { minLength: 1, maxLength: 10 }),
        fc.nat(),
        edit,
        async (entries, pick, { field, extra }) => {
          const rows = buildChain(entries);
          const target = pick % rows.length;
          rows[target] = applyEdit(rows[target]!, field, extra);
          const result = await verifyRows(rows);
          expect(result.ok).toBe(false);
          expect(result.first_bad?.seq).toBe(target + 1);
          expect(result.checked).toBe(target);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a deleted row (the last one included) or a swapped pair fails where it shows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 2, maxLength: 10 }), fc.nat(), async (entries, pick) => {
        const rows = buildChain(entries);
        // A gap shows at the missing seq (a missing last row only against a checkpoint: see the
        // workers ledger tests).
        const d = pick % (rows.length - 1);
        const deleted = rows.filter((_, i) => i !== d);
        expect(await verifyRows(deleted)).toMatchObject({ ok: false, first_bad: { seq: d + 1 } });
        const k = pick % (rows.length - 1);
        const swapped = rows.map((r) => ({ ...r }));
        const [a, b] = [swapped[k]!, swapped[k + 1]!];
        [a.seq, b.seq] = [b.seq, a.seq];
        expect((await verifyRows(swapped)).first_bad?.seq).toBe(k + 1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('canonicalJson (the fast path of canonicalEntry)', () => {
  // Keys that JS objects treat specially (integer-like, __proto__), escapes, and any Unicode.
  const key = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.string({ unit: 'binary', maxLength: 4 }),
    fc.constantFrom(
      '0',
      '1',
      '10',
      '9',
      '01',
      '-1',
      '4294967295',
      '__proto__',
      'constructor',
      '\\ud800',
      'é',
      'e\u0301',
    ),
  );
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom(null, true, false, 0, -1, 1e21, 1e-7, 0.1, 2 ** 53, -0.5),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.array(tie('v'), { maxLength: 4 }),
      fc.array(fc.tuple(key, tie('v')), { maxLength: 5 }).map((pairs) => {
        // JSON.parse makes own keys as a parsed body has them (__proto__ included).
        const o: Record<string, unknown> = JSON.parse('{}');
        for (const [k, v] of pairs)
          Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        return o;
      }),
    ),
  })).v;

  it('writes exactly what the canonicalize package writes, or throws where it throws', () => {
    fc.assert(
      fc.property(value, (v) => {
        let expected: string | undefined | Error;
        try {
          expected = canonicalize(v);
        } catch (err) {
          expected = err as Error;
        }
        if (expected instanceof Error) expect(() => canonicalJson(v)).toThrow();
        else expect(canonicalJson(v)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
