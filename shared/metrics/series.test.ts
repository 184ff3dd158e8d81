import Counter from 'prom-client/lib/counter.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import { describe, expect, it } from 'vitest';
import { CounterSeries, HistogramSeries } from './series.ts';

function pair() {
  const make = () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'llm_tokens_total',
      help: 'h',
      labelNames: ['provider', 'model', 'type'] as const,
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'llm_request_duration_seconds',
      help: 'h',
      labelNames: ['provider', 'model', 'role'] as const,
      buckets: [0.1, 1, 10],
      registers: [registry],
    });
    return { registry, counter, histogram };
  };
  return { ours: make(), theirs: make() };
}

describe('CounterSeries / HistogramSeries', () => {
  it('count as prom-client inc/observe do, label names in any order', async () => {
    const { ours, theirs } = pair();
    // Not in prom-client's sorted order (model, provider, type), and a label left out.
    const labels = { type: 'prompt', provider: 'openai', model: 'gpt-4.1' };
    const tokens = new CounterSeries(ours.counter, labels);
    const duration = new HistogramSeries(ours.histogram, { role: 'chat', provider: 'openai' });
    for (const n of [3, 0, 17, 1.5]) {
      tokens.inc(n);
      theirs.counter.inc(labels, n);
    }
    for (const s of [0.05, 0.1, 0.5, 1, 9.99, 10, 11, 0]) {
      duration.observe(s);
      theirs.histogram.observe({ role: 'chat', provider: 'openai' }, s);
    }
    expect(await ours.registry.metrics()).toBe(await theirs.registry.metrics());
    expect(await ours.registry.metrics()).toContain(
      'llm_tokens_total{type="prompt",provider="openai",model="gpt-4.1"} 21.5',
    );
  });

  it('refuse what prom-client refuses, through prom-client', () => {
    const { ours } = pair();
    const tokens = new CounterSeries(ours.counter, { provider: 'p', model: 'm', type: 't' });
    tokens.inc();
    expect(() => tokens.inc(-1)).toThrow(/decrease/);
    expect(() => tokens.inc(Number.POSITIVE_INFINITY)).toThrow(/not a valid number/);
    const duration = new HistogramSeries(ours.histogram, { provider: 'p', model: 'm', role: 'r' });
    duration.observe(1);
    expect(() => duration.observe(Number.POSITIVE_INFINITY)).toThrow(/not a valid number/);
  });
});
