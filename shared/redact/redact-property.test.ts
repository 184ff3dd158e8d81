import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactSecrets, redactString } from './index.ts';

const alnum = (min: number, max: number) =>
  fc.string({
    unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'),
    minLength: min,
    maxLength: max,
  });
const upperNum = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0234567'), minLength: n, maxLength: n });

/** Generators of secrets of every kind the redactor knows by value. */
const secret = fc.oneof(
  alnum(24, 48).map((s) => `sk-proj-${s}`),
  alnum(24, 48).map((s) => `sk-${s}`),
  alnum(24, 48).map((s) => `sk-ant-api03-${s}`),
  alnum(35, 35).map((s) => `AIza${s}`),
  fc.tuple(fc.constantFrom('AKIA', 'ASIA'), upperNum(16)).map(([p, s]) => `${p}${s}`),
  fc.tuple(alnum(10, 30), alnum(10, 40), alnum(20, 43)).map(([a, b, c]) => `eyJ${a}.eyJ${b}.${c}`),
  alnum(36, 40).map((s) => `ghp_${s}`),
  alnum(20, 30).map((s) => `xoxb-${s}`),
  alnum(20, 30).map((s) => `sk_live_${s}`),
);

/**
 * Separators around the secret. At least one: an `sk-` key glued to a word is indistinguishable
 * from a `task-...` slug; the distinctive prefixes are tested glued in the rules table.
 */
const filler = fc.string({ unit: fc.constantFrom(...' .,;!?()[]{}\n\t"\'|<>'), minLength: 1, maxLength: 12 });
const words = fc
  .array(fc.constantFrom('the', 'call', 'agent', 'used', 'key', 'and', 'then', 'failed'), { maxLength: 6 })
  .map((w) => w.join(' '));

describe('redactor properties', () => {
  it('no string containing a generated secret comes out containing it', () => {
    fc.assert(
      fc.property(words, filler, secret, filler, words, (w1, f1, s, f2, w2) => {
        const text = `${w1}${f1}${s}${f2}${w2}`;
        expect(redactString(text).value).not.toContain(s);
      }),
      { numRuns: 500 },
    );
  });

  it('no object holding a generated secret anywhere comes out containing it', () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string({ maxLength: 10 }),
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(
          fc.string({ unit: fc.constantFrom(...'abcdefgh_'), minLength: 1, maxLength: 6 }),
          tie('node'),
          { maxKeys: 3 },
        ),
      ),
    })).node;
    fc.assert(
      fc.property(tree, secret, fc.array(fc.nat(5), { maxLength: 4 }), (base, s, path) => {
        const root = { data: base, where: path };
        // Plant the secret at a path made of the generated indexes.
        let cursor: Record<string, unknown> = root;
        for (const step of path) {
          const next: Record<string, unknown> = { [`k${step}`]: cursor[`k${step}`] ?? null };
          cursor[`n${step}`] = next;
          cursor = next;
        }
        cursor.value = `prefix ${s} suffix`;
        const out = JSON.stringify(redactSecrets(root).value);
        expect(out).not.toContain(s);
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent: redacting twice changes nothing more', () => {
    fc.assert(
      fc.property(words, secret, words, (a, s, b) => {
        const once = redactString(`${a} ${s} ${b}`).value;
        expect(redactString(once).value).toBe(once);
      }),
      { numRuns: 200 },
    );
  });
});
