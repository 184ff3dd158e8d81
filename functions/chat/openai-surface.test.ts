import { describe, expect, inject, it } from 'vitest';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import app from '../index.ts';

const fake = inject('openaiFakeUrl');

const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 1500 }
  other: { type: openai, base_url: http://127.0.0.1:9/v1, base_url_env: OTHER_BASE_URL, api_key_env: FAKE_KEY, timeout_ms: 1500 }
  local: { type: openai_compatible, base_url: http://127.0.0.1:9/v1, base_url_env: LLM_BASE_URL, api_key_env: LLM_API_KEY, api_key_optional: true }
models:
  - { id: good, provider: fake, upstream: ok, capabilities: [chat, tools], context_window: 8192 }
  - { id: far-away, provider: other, upstream: no-such-model, capabilities: [chat], context_window: 8192 }
  - { id: embed-small, provider: fake, upstream: embed-8, capabilities: [embeddings], context_window: 8192, dimension: 8 }
roles:
  planning: [good]
  fast: [far-away, good]
  embedding: [embed-small]
  metered: [good]
`;

const env = (over: Record<string, string | undefined> = {}) =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
    ...over,
  });

const get = async (path: string, over: Record<string, string | undefined> = {}) =>
  call(app, path, { headers: bearer('agent'), env: await env(over) });

const post = async (
  path: string,
  body: unknown,
  over: Record<string, string | undefined> = {},
  headers = {},
) =>
  call(app, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent'), ...headers },
    body: JSON.stringify(body),
    env: await env(over),
  });

type ModelList = { object: string; data: Array<{ id: string; owned_by: string; chain?: string[] }> };

describe('models', () => {
  it('lists every id a caller may send: registry ids, role names and role:<name>, roles with chains', async () => {
    const res = await get('/v1/models');
    expect(res.status).toBe(200);
    const list = (await res.json()) as ModelList;
    const ids = list.data.map((m) => m.id);
    for (const id of [
      'good',
      'far-away',
      'embed-small',
      'planning',
      'role:planning',
      'fast',
      'role:fast',
      'embedding',
    ]) {
      expect(ids).toContain(id);
    }
    expect(list.data.find((m) => m.id === 'fast')).toMatchObject({
      owned_by: 'mas-role',
      chain: ['far-away', 'good'],
    });
    // Every listed id is accepted in `model` (chat ids by chat, embedding ids by embeddings).
    for (const m of list.data) {
      const embeds = m.id.includes('embed');
      const res = embeds
        ? await post('/v1/embeddings', { model: m.id, input: 'x' })
        : await post('/v1/chat/completions', { model: m.id, messages: [{ role: 'user', content: 'hi' }] });
      expect(res.status, m.id).not.toBe(404);
    }
  });

  it('retrieves one model, a role or role:<name>; 404 model_not_found otherwise', async () => {
    const one = await get('/v1/models/good');
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: 'good', object: 'model', owned_by: 'fake' });
    expect(await (await get('/v1/models/role:fast')).json()).toMatchObject({ chain: ['far-away', 'good'] });
    expect(((await (await get('/v1/models/planning')).json()) as { owned_by: string }).owned_by).toBe(
      'mas-role',
    );
    const missing = await get('/v1/models/gpt-9');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });

  it('with LLM_BASE_URL + openai_compatible, a registry id naming another provider goes to that one server', async () => {
    const over = { LLM_BASE_URL: `${fake}/v1`, LLM_DEFAULT_PROVIDER: 'openai_compatible' };
    const before = (await (await fetch(`${fake}/__requests/far-away`)).json()) as unknown[];
    const res = await post(
      '/v1/chat/completions',
      { model: 'far-away', messages: [{ role: 'user', content: 'hi' }] },
      over,
    );
    expect(res.headers.get('x-mas-provider')).toBe('local');
    // The configured server was asked for the registry id, never `other`'s upstream name.
    const after = (await (await fetch(`${fake}/__requests/far-away`)).json()) as unknown[];
    expect(after.length).toBe(before.length + 1);
    const listed = (await (await get('/v1/models/far-away', over)).json()) as { owned_by: string };
    expect(listed.owned_by).toBe('local');
    // A provider whose own base URL variable is set was pointed somewhere on purpose: it stays.
    const pointed = { ...over, OTHER_BASE_URL: `${fake}/v1` };
    const kept = await post(
      '/v1/chat/completions',
      { model: 'far-away', messages: [{ role: 'user', content: 'hi' }] },
      pointed,
    );
    expect(kept.status).toBe(200);
    expect(kept.headers.get('x-mas-provider')).toBe('other');
  });
});

describe('headers OpenAI clients read', () => {
  it('x-request-id is the correlation id on every response, errors included', async () => {
    const ok = await get('/v1/models');
    expect(ok.headers.get('x-request-id')).toBe(ok.headers.get('x-correlation-id'));
    expect(ok.headers.get('x-request-id')).toBeTruthy();
    const denied = await call(app, '/v1/models', { headers: { 'x-correlation-id': 'corr-req-id-01' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('x-request-id')).toBe('corr-req-id-01');
  });

  it('rate-limit headers under OpenAI names', async () => {
    const res = await get('/v1/models', { RATE_LIMIT_REQUESTS: '777' });
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('777');
    expect(Number(res.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(777);
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|(\d+h)?(\d+m)?\d+(\.\d)?s)$/);
  });
});

describe('token rate-limit headers', () => {
  it('x-ratelimit-*-tokens where a tokens-per-minute budget applies, and only there', async () => {
    const e = await env();
    const set = await call(app, '/v1/admin/budgets/role/metered', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearer('admin') },
      body: JSON.stringify({ tpm: 100000 }),
      env: e,
    });
    expect(set.status).toBe(200);
    const messages = [{ role: 'user', content: 'hi' }];
    const metered = await call(app, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent') },
      body: JSON.stringify({ model: 'metered', max_tokens: 100, messages }),
      env: e,
    });
    expect(metered.status).toBe(200);
    expect(metered.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    const remaining = Number(metered.headers.get('x-ratelimit-remaining-tokens'));
    expect(remaining).toBeLessThanOrEqual(100000 - 100);
    expect(remaining).toBeGreaterThan(0);
    expect(metered.headers.get('x-ratelimit-reset-tokens')).toMatch(/^(\d+ms|(\d+m)?\d+(\.\d)?s)$/);
    const plain = await post('/v1/chat/completions', { model: 'planning', messages });
    expect(plain.headers.get('x-ratelimit-limit-tokens')).toBeNull();
  });
});

describe('streams', () => {
  const chunksOf = async (res: Response) =>
    (await res.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as { choices: unknown[]; usage?: unknown });

  it('the usage-only chunk reaches the caller only with stream_options.include_usage', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const plain = await chunksOf(
      await post('/v1/chat/completions', { model: 'planning', stream: true, messages }),
    );
    expect(plain.some((c) => c.choices.length === 0)).toBe(false);
    const asked = await chunksOf(
      await post('/v1/chat/completions', {
        model: 'planning',
        stream: true,
        messages,
        stream_options: { include_usage: true },
      }),
    );
    expect(asked.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 14 } });
  });

  it('usage is still counted when the caller did not ask for it', async () => {
    const { registry } = await import('../../shared/metrics/registry.ts');
    const read = async () =>
      Number(
        /llm_tokens_total\{provider="fake",model="good",type="completion"\} (\d+)/.exec(
          await registry.getSingleMetricAsString('llm_tokens_total'),
        )?.[1] ?? 0,
      );
    const before = await read();
    const res = await post('/v1/chat/completions', {
      model: 'planning',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await res.text();
    expect(await read()).toBe(before + 5);
  });
});

describe('unsupported OpenAI endpoints', () => {
  it.each([
    ['POST', '/v1/moderations', /chat\/completions/],
    ['POST', '/v1/images/generations', /image provider/],
    ['POST', '/v1/audio/transcriptions', /audio provider/],
    ['GET', '/v1/files', /inline/],
    ['POST', '/v1/batches', /one by one/],
    ['GET', '/v1/realtime', /stream/],
  ])('%s %s is a 404 unsupported_endpoint naming the alternative', async (method, path, alternative) => {
    const res = await call(app, path, { method, headers: bearer('agent'), env: await env() });
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('unsupported_endpoint');
    expect(error.message).toMatch(alternative);
  });
});

describe('CORS', () => {
  const origin = 'https://agents.example.com';
  const preflight = async (over: Record<string, string | undefined>, requestHeaders: string) =>
    call(app, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': requestHeaders,
      },
      env: await env(over),
    });

  it('answers a preflight before auth with the SDK headers allowed', async () => {
    const res = await preflight(
      { CORS_ORIGINS: `http://other.test, ${origin}` },
      'authorization, content-type, x-stainless-os, x-stainless-retry-count, openai-project, x-evil',
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    const allowed = res.headers.get('access-control-allow-headers')!.split(', ');
    for (const h of [
      'authorization',
      'content-type',
      'x-stainless-os',
      'x-stainless-retry-count',
      'openai-organization',
      'openai-project',
      'anthropic-version',
    ]) {
      expect(allowed).toContain(h);
    }
    expect(allowed).not.toContain('x-evil');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('exposes the routing, request-id, retry and rate-limit headers; nothing for other origins or when unset', async () => {
    const res = await call(app, '/v1/chat/completions', {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', ...bearer('agent') },
      body: JSON.stringify({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] }),
      env: await env({ CORS_ORIGINS: '*' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = res.headers.get('access-control-expose-headers')!.split(', ');
    for (const h of [
      'x-mas-provider',
      'x-mas-model',
      'x-mas-attempts',
      'x-request-id',
      'x-correlation-id',
      'retry-after',
      'x-ratelimit-remaining-requests',
    ]) {
      expect(exposed).toContain(h);
    }
    const stranger = await preflight({ CORS_ORIGINS: 'http://other.test' }, 'authorization');
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    const unset = await call(app, '/v1/models', {
      headers: { origin, ...bearer('agent') },
      env: await env(),
    });
    expect(unset.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an error response carries the CORS headers too, so the page can read it', async () => {
    const res = await call(app, '/v1/models', {
      headers: { origin },
      env: await env({ CORS_ORIGINS: origin }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
  });
});
