import * as nodeUtil from 'node:util';
import Counter from 'prom-client/lib/counter.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import { describe, expect, it } from 'vitest';
import { format, inspect } from './prom-client-util.ts';

// The stand-in wrangler.toml aliases prom-client's `util` to: the same text as node:util's, which
// it loads on the first call. test/workers/builtin-stand-ins.test.ts runs the same under workerd.
// Not in the counter's labelset (a plain record, so the compiler lets it through as prom-client would).
const unknownLabel: Record<string, string> = { nope: 'x' };

describe('prom-client-util', () => {
  const values: unknown[] = [
    'x',
    'NaN',
    Number.NaN,
    Infinity,
    -1,
    0,
    null,
    undefined,
    { a: 1 },
    ['a', 'b'],
    10n,
    Symbol('s'),
  ];
  it.each(values.map((v) => [v]))("format and inspect of %s are node:util's", (value) => {
    expect(format(value)).toBe(nodeUtil.format(value));
    expect(inspect(value)).toBe(nodeUtil.inspect(value));
  });

  it('formats with several arguments as node:util does', () => {
    expect(format('%s=%d', 'a', 1, 'rest')).toBe('a=1 rest');
  });

  it("words prom-client's errors (a label not in the labelset, a value that is no number)", () => {
    const registers = [new Registry()];
    const counter = new Counter({ name: 'c_total', help: 'h', labelNames: ['route'], registers });
    expect(() => counter.inc(unknownLabel)).toThrow(
      `Added label "nope" is not included in initial labelset: [ 'route' ]`,
    );
    expect(() => counter.inc('x' as unknown as number)).toThrow('Value is not a valid number: x');
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['route'], registers });
    expect(() => histogram.observe({ route: 'a' }, Number.POSITIVE_INFINITY)).toThrow(
      'Value is not a valid number: Infinity',
    );
  });
});
