import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import { gatewayConfig } from '../config/index.ts';
import type { AppError } from '../errors/index.ts';
import type { AppEnv } from '../http/create-app.ts';
import type { ResolvedModel, ResolvedTarget } from '../llm/registry.ts';
import type { Logger } from '../log/logger.ts';
import { llmCostUsdTotal, llmUnpricedRequestsTotal } from '../metrics/registry.ts';
import { beginSpend, estimatePromptTokens, newSpendId, utf8Length } from './spend.ts';

describe('utf8Length', () => {
  it.each([
    ['', 'empty'],
    ['Say hello.', 'ASCII'],
    ['café, naïve, Ærø', 'two-byte Latin'],
    ['日本語のテキスト', 'three-byte CJK'],
    ['emoji 😀 and 🇫🇷 flags', 'surrogate pairs'],
    ['lone \ud800 high and \udc00 low surrogates, and a high at the end \ud83d', 'lone surrogates'],
    [JSON.stringify([{ role: 'user', content: 'Grüße 👋 — “quoted”' }]), 'a JSON body'],
  ])('counts what TextEncoder writes: %j (%s)', (text) => {
    expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
  });

  it('estimates a third of the bytes, rounded up', () => {
    expect(estimatePromptTokens('abcd')).toBe(2);
    expect(estimatePromptTokens([{ role: 'user', content: 'hi' }])).toBe(
      Math.ceil(JSON.stringify([{ role: 'user', content: 'hi' }]).length / 3),
    );
  });
});

describe('beginSpend', () => {
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Logger;
  const model = {
    model: { id: 'm', upstream: 'm', price: { input: 1, output: 2 } },
    providerId: 'p',
  } as unknown as ResolvedModel;
  const target: ResolvedTarget = { role: 'fast', chain: [model] };

  /** One call as a route makes it, for principal `id`; says what the estimate was asked. */
  async function call(id: string) {
    const estimate = vi.fn(() => 10);
    const app = new Hono<AppEnv>();
    app.onError((err) => Response.json({ status: (err as AppError).status }, { status: 599 }));
    app.post('/', async (c) => {
      c.set('principal', { id, role: 'agent' });
      c.set('log', quiet);
      const spend = await beginSpend(c, { endpoint: 'chat', target, promptTokens: estimate });
      const cost = spend.settle(model, { prompt_tokens: 1000, completion_tokens: 500 });
      return c.json({ cost });
    });
    const res = await app.request('/', { method: 'POST' }, {});
    return { body: (await res.json()) as { cost?: number; status?: number }, estimate };
  }

  it('prices the call and never estimates the prompt of a key without budgets', async () => {
    const { body, estimate } = await call(`no-budget-${Math.random()}`);
    expect(body.cost).toBeCloseTo(0.002, 12);
    expect(estimate).not.toHaveBeenCalled();
  });

  it('estimates the prompt once where a budget applies, and enforces it', async () => {
    const defaults = gatewayConfig.budgets.defaults.principal;
    gatewayConfig.budgets.defaults.principal = { rpm: 1 };
    try {
      const id = `budgeted-${Math.random()}`;
      const first = await call(id);
      expect(first.estimate).toHaveBeenCalledTimes(1);
      expect(first.body.cost).toBeCloseTo(0.002, 12);
      expect((await call(id)).body.status).toBe(429);
    } finally {
      gatewayConfig.budgets.defaults.principal = defaults;
    }
  });
});

describe('settle: the cost metrics', () => {
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Logger;
  const seriesValue = async (counter: typeof llmCostUsdTotal, labels: Record<string, string>) =>
    (await counter.get()).values.find((v) =>
      Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
    )?.value;

  it('count each model and role in llm_cost_usd_total, and an unpriced model in llm_unpriced_requests_total', async () => {
    const tag = `m-${Math.random()}`;
    const priced = { model: { id: tag, upstream: tag, price: { input: 1, output: 2 } }, providerId: 'p' };
    const unpriced = { model: { id: `${tag}-free`, upstream: tag }, providerId: 'p' };
    const app = new Hono<AppEnv>();
    app.post('/:role', async (c) => {
      c.set('principal', { id: `no-budget-${tag}`, role: 'agent' });
      c.set('log', quiet);
      const role = c.req.param('role');
      const target = { role, chain: [priced] } as unknown as ResolvedTarget;
      const spend = await beginSpend(c, { endpoint: 'chat', target, promptTokens: 1 });
      const model = (c.req.query('free') ? unpriced : priced) as unknown as ResolvedModel;
      return c.json({ cost: spend.settle(model, { prompt_tokens: 1000, completion_tokens: 500 }) });
    });
    for (const path of ['/fast', '/fast', '/slow', '/fast?free=1'])
      expect((await app.request(path, { method: 'POST' }, {})).status).toBe(200);
    expect(await seriesValue(llmCostUsdTotal, { model: tag, role: 'fast' })).toBeCloseTo(0.004, 12);
    expect(await seriesValue(llmCostUsdTotal, { model: tag, role: 'slow' })).toBeCloseTo(0.002, 12);
    expect(await seriesValue(llmUnpricedRequestsTotal, { model: `${tag}-free`, role: 'fast' })).toBe(1);
    expect(await seriesValue(llmCostUsdTotal, { model: `${tag}-free` })).toBeUndefined();
  });
});

describe('newSpendId', () => {
  it('never repeats in an isolate', () => {
    const ids = Array.from({ length: 5000 }, () => newSpendId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}\.[0-9a-z]+$/);
  });
});
