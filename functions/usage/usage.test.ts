import { Redis } from '@upstash/redis/cloudflare';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { call, KEYS, testEnv, testKeysSecret } from '../../test/workers/helpers.ts';
import app from '../index.ts';

const fake = inject('openaiFakeUrl');
const run = crypto.randomUUID().slice(0, 8);

// Prices chosen so sums are exact: `quota` charges only output, so a request with max_tokens 5
// (the fake always writes 5) reserves exactly what it spends and a budget fits a known count.
const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 3000 }
models:
  - { id: priced, provider: fake, upstream: ok, capabilities: [chat], context_window: 8192, price: { input: 2, output: 8 } }
  - { id: free, provider: fake, upstream: ok, capabilities: [chat], context_window: 8192 }
  - { id: quota, provider: fake, upstream: "quota-${run}", capabilities: [chat], context_window: 8192, price: { input: 0, output: 1000 } }
  - { id: refund, provider: fake, upstream: "refund-${run}", capabilities: [chat], context_window: 8192, price: { input: 0, output: 1000 } }
  - { id: rebuild, provider: fake, upstream: "rebuild-${run}", capabilities: [chat], context_window: 8192, price: { input: 0, output: 1000 } }
  - { id: cachy, provider: fake, upstream: "cachy-${run}", capabilities: [chat], context_window: 8192, price: { input: 2, output: 8 } }
  - { id: emb, provider: fake, upstream: "emb-${run}-8", capabilities: [embeddings], context_window: 8192, dimension: 8, price: { input: 0.1, output: 0 } }
roles:
  planning: [priced]
  quota: [quota]
  cached: [cachy]
  embedding: [emb]
cache:
  cached: { ttl_seconds: 60 }
  embedding: { ttl_seconds: 60, shared: true }
`;

/** Fresh principals per run, so budgets and usage of one run never meet another's. */
const ids = {
  a: `gov-a-${run}`,
  b: `gov-b-${run}`,
  c: `gov-c-${run}`,
  d: `gov-d-${run}`,
  e: `gov-e-${run}`,
};
const keys = Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, `mas_${id}_key_0123456789abcdef`]));
const ADMIN_KEY = `mas_gov-admin-${run}_key_0123456789`;
let env: Awaited<ReturnType<typeof testEnv>>;

beforeAll(async () => {
  const entries = await Promise.all(
    Object.entries(ids).map(async ([k, id]) => `${id}:agent:${await sha256Hex(keys[k]!)}`),
  );
  // Key a may act as two more agents (x-mas-agent-id), whose own budgets the tests set.
  entries[0] += `:rpm-agent-${run}|local-agent-${run}`;
  entries.push(`gov-admin-${run}:admin:${await sha256Hex(ADMIN_KEY)}`);
  env = await testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    MAS_API_KEYS: entries.join(','),
  });
});

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

function chat(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call(app, '/v1/chat/completions', {
    method: 'POST',
    headers: { ...auth(key), ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    env,
  });
}

async function setBudget(scope: string, id: string, limits: Record<string, number | null>) {
  const res = await call(app, `/v1/admin/budgets/${scope}/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: auth(ADMIN_KEY),
    body: JSON.stringify(limits),
    env,
  });
  expect(res.status).toBe(200);
}

const upstreamCount = async (upstream: string) =>
  ((await (await fetch(`${fake}/__requests/${encodeURIComponent(upstream)}`)).json()) as unknown[]).length;

interface UsageRow {
  principal: string;
  role: string;
  model: string;
  endpoint: string;
  prompt_tokens: string;
  completion_tokens: string;
  cost_usd: string | null;
  cache_hit: boolean;
}

const usageRows = (where: string, value: string) =>
  withPostgres(getSettings(env), async (client) => {
    const { rows } = await client.query<UsageRow>(
      `select principal, role, model, endpoint, prompt_tokens::text, completion_tokens::text, cost_usd::text, cache_hit
         from governance.usage where ${where} = $1 order by id`,
      [value],
    );
    return rows;
  });

async function pollRows(where: string, value: string, count: number): Promise<UsageRow[]> {
  const deadline = Date.now() + 10_000;
  let rows = await usageRows(where, value);
  while (rows.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    rows = await usageRows(where, value);
  }
  return rows;
}

describe('cost per request', () => {
  it('prices a chat answer: x-mas-cost-usd and a usage row equal tokens x price', async () => {
    const res = await chat(keys.a!, { model: 'planning' });
    expect(res.status).toBe(200);
    // The fake reports 9 prompt and 5 completion tokens: (9 x 2 + 5 x 8) / 1e6 USD.
    expect(res.headers.get('x-mas-cost-usd')).toBe('0.000058');
    const rows = await usageRows('correlation_id', res.headers.get('x-request-id')!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      principal: ids.a,
      role: 'planning',
      model: 'priced',
      endpoint: 'chat',
      prompt_tokens: '9',
      completion_tokens: '5',
      cache_hit: false,
    });
    expect(Number(rows[0]!.cost_usd)).toBeCloseTo(0.000058, 12);
  });

  it('prices a stream from its final usage', async () => {
    const res = await chat(keys.a!, { model: 'planning', stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('[DONE]');
    // A stream is settled when it ends, after the response: its row arrives in the background.
    const rows = await pollRows('correlation_id', res.headers.get('x-request-id')!, 1);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.cost_usd)).toBeCloseTo(0.000058, 12);
  });

  it('prices embeddings', async () => {
    const res = await call(app, '/v1/embeddings', {
      method: 'POST',
      headers: { ...auth(keys.a!), 'x-mas-cache': 'off' },
      body: JSON.stringify({ model: 'emb', input: 'alpha beta gamma' }),
      env,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-cost-usd')).toBe('0.0000003');
    const rows = await usageRows('correlation_id', res.headers.get('x-request-id')!);
    expect(rows.map((r) => [r.endpoint, r.prompt_tokens, Number(r.cost_usd)])).toEqual([
      ['embeddings', '3', 3e-7],
    ]);
  });

  it('records a model without a price with cost null and no header', async () => {
    const res = await chat(keys.a!, { model: 'free' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-cost-usd')).toBeNull();
    const rows = await usageRows('correlation_id', res.headers.get('x-request-id')!);
    expect(rows.map((r) => r.cost_usd)).toEqual([null]);
  });
});

describe('budgets', () => {
  it('100 concurrent requests against a budget that fits 10: exactly 10 reach the upstream', async () => {
    // Each reserves (and spends) 5 tokens x $1000/M = $0.005; $0.05 a day fits ten.
    await setBudget('principal', ids.b, { daily_usd: 0.05 });
    const before = await upstreamCount(`quota-${run}`);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => chat(keys.b!, { model: 'quota', max_tokens: 5 })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(90);
    expect((await upstreamCount(`quota-${run}`)) - before).toBe(10);
    const refused = results.find((r) => r.status === 429)!;
    const body = (await refused.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error.type).toBe('insufficient_quota');
    expect(body.error.code).toBe('insufficient_quota');
    expect(body.error.message).toContain(`principal '${ids.b}'`);
    expect(body.error.message).toMatch(/resets at \d{4}-\d\d-\d\dT00:00:00/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('settles to the real usage: the unused part of a reservation is given back', async () => {
    // max_tokens 1000 reserves $1; the answer spends $0.005. With $1.5 a day the second request
    // fits only because the first one's unused $0.995 came back.
    await setBudget('principal', ids.c, { daily_usd: 1.5 });
    expect((await chat(keys.c!, { model: 'refund', max_tokens: 1000 })).status).toBe(200);
    expect((await chat(keys.c!, { model: 'refund', max_tokens: 1000 })).status).toBe(200);
    // $0.01 spent: a request whose worst case is $1.6 does not fit, and nothing goes upstream.
    const before = await upstreamCount(`refund-${run}`);
    expect((await chat(keys.c!, { model: 'refund', max_tokens: 1600 })).status).toBe(429);
    expect(await upstreamCount(`refund-${run}`)).toBe(before);
  });

  it('a requests-per-minute limit on a role holds', async () => {
    await setBudget('agent', `rpm-agent-${run}`, { rpm: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await chat(keys.a!, { model: 'planning' }, { 'x-mas-agent-id': `rpm-agent-${run}` })).status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('an agent id not bound to the key is refused before anything is spent', async () => {
    const before = await upstreamCount(`quota-${run}`);
    const res = await chat(keys.a!, { model: 'quota' }, { 'x-mas-agent-id': `billing-agent-${run}` });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('agent_mismatch');
    expect(await upstreamCount(`quota-${run}`)).toBe(before);
  });

  it('rebuilds lost Redis counters from the usage rows: the budget still holds', async () => {
    await setBudget('principal', ids.d, { daily_usd: 0.05 });
    for (let i = 0; i < 6; i++)
      expect((await chat(keys.d!, { model: 'rebuild', max_tokens: 5 })).status).toBe(200);
    expect(await usageRows('principal', ids.d)).toHaveLength(6);
    // Redis loses the counters (flush, failover): delete every key of this principal's budget.
    const settings = getSettings(env);
    const redis = new Redis({
      url: settings.UPSTASH_REDIS_REST_URL!,
      token: settings.UPSTASH_REDIS_REST_TOKEN!,
    });
    const lost = await redis.keys(`mas:budget:principal:${ids.d}:*`);
    expect(lost.length).toBeGreaterThan(0);
    await redis.del(...lost);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => chat(keys.d!, { model: 'rebuild', max_tokens: 5 })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(4);
  });
});

describe('usage API', () => {
  it('sums equal the rows; an agent reads its own usage only', async () => {
    const own = await call(app, `/v1/usage?scope=principal&id=${ids.a}&group_by=model`, {
      headers: auth(keys.a!),
      env,
    });
    expect(own.status).toBe(200);
    const usage = (await own.json()) as {
      data: Array<{ model: string; requests: number; cost_usd: number }>;
      totals: { requests: number; cost_usd: number; prompt_tokens: number };
    };
    const rows = await usageRows('principal', ids.a);
    expect(usage.totals.requests).toBe(rows.length);
    expect(usage.totals.cost_usd).toBeCloseTo(
      rows.reduce((s, r) => s + Number(r.cost_usd ?? 0), 0),
      12,
    );
    expect(usage.totals.prompt_tokens).toBe(rows.reduce((s, r) => s + Number(r.prompt_tokens), 0));
    expect(usage.data.find((d) => d.model === 'fake/priced')?.requests).toBe(
      rows.filter((r) => r.model === 'priced').length,
    );
    const other = await call(app, `/v1/usage?scope=principal&id=${ids.b}`, { headers: auth(keys.a!), env });
    expect(other.status).toBe(403);
    const admin = await call(app, `/v1/usage?scope=principal&id=${ids.b}&group_by=day`, {
      headers: auth(ADMIN_KEY),
      env,
    });
    expect(((await admin.json()) as { totals: { requests: number } }).totals.requests).toBe(10);
    const bad = await call(app, '/v1/usage?scope=planet', { headers: auth(ADMIN_KEY), env });
    expect(bad.status).toBe(400);
  });

  it('lists budgets for admins only', async () => {
    const res = await call(app, '/v1/admin/budgets', { headers: auth(ADMIN_KEY), env });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { data: Array<{ scope: string; id: string; daily_usd: number }> };
    expect(list.data.find((b) => b.id === ids.b)).toMatchObject({ scope: 'principal', daily_usd: 0.05 });
    expect((await call(app, '/v1/admin/budgets', { headers: auth(keys.a!), env })).status).toBe(403);
    const bad = await call(app, `/v1/admin/budgets/principal/${ids.e}`, {
      method: 'PUT',
      headers: auth(ADMIN_KEY),
      body: JSON.stringify({ daily_usd: -1 }),
      env,
    });
    expect(bad.status).toBe(400);
  });
});

describe('response cache', () => {
  it('a hit never reaches the upstream, costs nothing, and another principal misses', async () => {
    const upstream = `cachy-${run}`;
    const first = await chat(keys.e!, { model: 'cached', temperature: 0 });
    expect(first.headers.get('x-mas-cache')).toBe('miss');
    const afterFirst = await upstreamCount(upstream);
    const second = await chat(keys.e!, { model: 'cached', temperature: 0 });
    expect(second.status).toBe(200);
    expect(second.headers.get('x-mas-cache')).toBe('hit');
    expect(second.headers.get('x-mas-cost-usd')).toBe('0.0');
    expect(await second.json()).toEqual(await first.json());
    expect(await upstreamCount(upstream)).toBe(afterFirst);
    const other = await chat(keys.a!, { model: 'cached', temperature: 0 });
    expect(other.headers.get('x-mas-cache')).toBe('miss');
    expect(await upstreamCount(upstream)).toBe(afterFirst + 1);
    const hitRows = (await usageRows('principal', ids.e)).filter((r) => r.cache_hit);
    expect(hitRows.map((r) => Number(r.cost_usd))).toEqual([0]);
  });

  it('does not cache sampled answers, and x-mas-cache: off skips it', async () => {
    const upstream = `cachy-${run}`;
    const before = await upstreamCount(upstream);
    await chat(keys.e!, { model: 'cached', temperature: 0.7 });
    const again = await chat(keys.e!, { model: 'cached', temperature: 0.7 });
    expect(again.headers.get('x-mas-cache')).toBeNull();
    const off = await chat(keys.e!, { model: 'cached', temperature: 0 }, { 'x-mas-cache': 'off' });
    expect(off.headers.get('x-mas-cache')).toBeNull();
    expect(await upstreamCount(upstream)).toBe(before + 3);
    const bad = await chat(keys.e!, { model: 'cached' }, { 'x-mas-cache': 'forever' });
    expect(bad.status).toBe(400);
  });

  it('a shared embeddings cache serves every principal', async () => {
    const body = JSON.stringify({ model: 'embedding', input: `shared text ${run}` });
    const before = await upstreamCount(`emb-${run}-8`);
    const first = await call(app, '/v1/embeddings', { method: 'POST', headers: auth(keys.a!), body, env });
    expect(first.headers.get('x-mas-cache')).toBe('miss');
    const second = await call(app, '/v1/embeddings', { method: 'POST', headers: auth(keys.b!), body, env });
    expect(second.headers.get('x-mas-cache')).toBe('hit');
    expect(await upstreamCount(`emb-${run}-8`)).toBe(before + 1);
    // The hit reserved nothing and settled nothing on b's spent budget: no reservation is left.
    const settings = getSettings(env);
    const redis = new Redis({
      url: settings.UPSTASH_REDIS_REST_URL!,
      token: settings.UPSTASH_REDIS_REST_TOKEN!,
    });
    const day = new Date().toISOString().slice(0, 10);
    const counter = await redis.hgetall<Record<string, string>>(`mas:budget:principal:${ids.b}:usd:d:${day}`);
    expect(Object.keys(counter ?? {}).filter((k) => k.startsWith('r:'))).toEqual([]);
    expect(Number(counter?.s)).toBe(10 * 5_000_000);
    expect(Number(counter?.reserved)).toBe(0);
  });
});

describe('without Redis', () => {
  it('enforces budgets per isolate, and /ready says it is approximate', async () => {
    const noRedis = { ...env, UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined };
    await setBudget('agent', `local-agent-${run}`, { rpm: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(app, '/v1/chat/completions', {
        method: 'POST',
        headers: { ...auth(keys.a!), 'x-mas-agent-id': `local-agent-${run}` },
        body: JSON.stringify({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] }),
        env: noRedis,
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    const ready = (await (await call(app, '/ready', { env: noRedis })).json()) as {
      budgets: { enforcement: string; note?: string };
    };
    expect(ready.budgets.enforcement).toBe('per_isolate');
    expect(ready.budgets.note).toMatch(/approximate/);
    const shared = (await (await call(app, '/ready', { env })).json()) as {
      budgets: { enforcement: string };
    };
    expect(shared.budgets.enforcement).toBe('shared');
  });
});

describe('usage page for admins', () => {
  async function signIn(key: string): Promise<string> {
    const res = await call(app, '/approvals/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://mas.test' },
      body: new URLSearchParams({ key }).toString(),
      env: { ...env, MAS_API_KEYS: `${env.MAS_API_KEYS},${await testKeysSecret()}` },
    });
    expect(res.status).toBe(303);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('shows spend per agent per day to an admin, linked from the approvals page; not to an approver', async () => {
    const pageEnv = { ...env, MAS_API_KEYS: `${env.MAS_API_KEYS},${await testKeysSecret()}` };
    const admin = await signIn(ADMIN_KEY);
    const list = await call(app, '/approvals', { headers: { cookie: admin }, env: pageEnv });
    expect(await list.text()).toContain('href="/approvals/usage"');
    const res = await call(app, '/approvals/usage', { headers: { cookie: admin }, env: pageEnv });
    expect(res.status).toBe(200);
    const html = await res.text();
    const today = new Date().toISOString().slice(0, 10);
    // Principal b's ten $0.005 calls of the budget test and its free cache hit, one row of today.
    expect(html).toContain(`<td>${today}</td><td>${ids.b}</td><td>11</td><td>$0.0500</td>`);
    expect(html).toContain('<svg');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const approver = await signIn(KEYS.approver);
    const refused = await call(app, '/approvals/usage', { headers: { cookie: approver }, env: pageEnv });
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain(ids.b);
    const anonymous = await call(app, '/approvals/usage', { env: pageEnv });
    expect(anonymous.status).toBe(303);
  });
});
