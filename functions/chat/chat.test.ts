import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import chatApp from './index.ts';

const fake = inject('openaiFakeUrl');

/** A registry whose upstream model names tell the fake how to behave (see test/fakes/openai-fake.ts). */
const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 1500 }
  keyless: { type: openai, base_url: ${fake}/v1, api_key_env: MISSING_OPENAI_KEY }
models:
  - { id: good, provider: fake, upstream: ok, capabilities: [chat, tools], context_window: 8192 }
  - { id: tools, provider: fake, upstream: tools, capabilities: [chat, tools], context_window: 8192 }
  - { id: broken, provider: fake, upstream: fail500, capabilities: [chat], context_window: 8192 }
  - { id: limited, provider: fake, upstream: rate429, capabilities: [chat], context_window: 8192 }
  - { id: picky, provider: fake, upstream: bad400, capabilities: [chat], context_window: 8192 }
  - { id: small, provider: fake, upstream: ctx-too-long, capabilities: [chat], context_window: 8192 }
  - { id: big, provider: fake, upstream: ok, capabilities: [chat], context_window: 128000 }
  - { id: stalled, provider: fake, upstream: stall, capabilities: [chat], context_window: 8192 }
  - { id: cut, provider: fake, upstream: midstream, capabilities: [chat], context_window: 8192 }
  - { id: no-key, provider: keyless, upstream: ok, capabilities: [chat], context_window: 8192 }
  - { id: scripted, provider: fake, upstream: "seq:flaky", capabilities: [chat], context_window: 8192 }
  - { id: tripping, provider: fake, upstream: "seq:trip", capabilities: [chat], context_window: 8192 }
  - { id: slow-stream, provider: fake, upstream: slowstream, capabilities: [chat], context_window: 8192 }
roles:
  planning: [good]
  execution: [broken, good]
  fast: [no-key, good]
  fallback: [small, good, big]
  lonely: [no-key]
  flaky: [scripted, good]
  trip: [tripping, good]
  slow: [stalled]
  cut: [cut]
policy:
  retries: 2
  backoff: { base_ms: 10, max_ms: 50 }
  retry_after_cap_ms: 3000
  deadline_ms: 4000
  circuit_breaker: { failure_threshold: 3, window_ms: 60000, open_ms: 60000 }
`;

const env = () =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    // Circuits live in Redis when configured; give each test run its own by isolating keys.
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  });

async function chat(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call(chatApp, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent'), ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    env: await env(),
  });
}

const requestsFor = async (upstream: string) =>
  (await (await fetch(`${fake}/__requests/${encodeURIComponent(upstream)}`)).json()) as unknown[];

beforeEach(() => resetLocalCircuits());

describe('POST /v1/chat/completions', () => {
  it('resolves a role and answers in the OpenAI shape with routing headers', async () => {
    const res = await chat({ model: 'planning' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-provider')).toBe('fake');
    expect(res.headers.get('x-mas-model')).toBe('good');
    expect(res.headers.get('x-mas-attempts')).toBe('1');
    const body = (await res.json()) as { object: string; choices: Array<{ message: { content: string } }> };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.content).toBe('Hello from the fake.');
  });

  it('takes the role from x-mas-role when model is absent, and role:<name> works too', async () => {
    expect((await chat({}, { 'x-mas-role': 'planning' })).status).toBe(200);
    expect((await chat({ model: 'role:planning' })).status).toBe(200);
    expect((await chat({ model: 'good' })).headers.get('x-mas-model')).toBe('good');
  });

  it('404 for an unknown model or role; 400 with param for bad input', async () => {
    const unknown = await chat({ model: 'gpt-9' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    const bad = await chat({ model: 'planning', max_tokens: -5 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('max_tokens');
    expect((await chat({ model: 'planning', messages: [] })).status).toBe(400);
  });

  it('retries a failing model, then falls back to the next', async () => {
    const res = await chat({ model: 'execution' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('good');
    expect(res.headers.get('x-mas-attempts')).toBe('4'); // 1 + 2 retries on broken, then good
  });

  it('says in Server-Timing what the gateway and the upstream took, per attempt', async () => {
    const timing = (res: Response) => {
      const header = res.headers.get('server-timing') ?? '';
      const metric = (name: string) => header.match(new RegExp(`${name};dur=([0-9.]+);desc="([^"]*)"`));
      return { gateway: metric('gateway'), upstream: metric('upstream') };
    };
    const one = timing(await chat({ model: 'planning' }));
    expect(Number(one.gateway?.[1])).toBeGreaterThanOrEqual(0);
    expect(Number(one.upstream?.[1])).toBeGreaterThanOrEqual(0);
    expect(one.upstream?.[2]).toBe('1 attempt');

    await fetch(`${fake}/__scripts/timing`, { method: 'POST', body: JSON.stringify(['500', 'ok']) });
    const res = await call(chatApp, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent') },
      body: JSON.stringify({ model: 'timed', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      env: await testEnv({
        MAS_MODELS_YAML: MODELS_YAML.replace(
          'roles:',
          '  - { id: timed, provider: fake, upstream: "seq:timing", capabilities: [chat], context_window: 8192 }\nroles:',
        ),
        FAKE_KEY: 'sk-fake-key-0000000000000000000000',
        UPSTASH_REDIS_REST_URL: undefined,
        UPSTASH_REDIS_REST_TOKEN: undefined,
      }),
    });
    expect(res.status).toBe(200);
    expect(timing(res).upstream?.[2]).toBe('2 attempts');
    await res.text();
  });

  it('honours Retry-After between retries', async () => {
    await fetch(`${fake}/__scripts/flaky`, { method: 'POST', body: JSON.stringify(['429', 'ok']) });
    const started = Date.now();
    const res = await chat({ model: 'flaky' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('scripted');
    expect(res.headers.get('x-mas-attempts')).toBe('2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('returns a caller 400 at once, without retrying or falling back', async () => {
    const before = (await requestsFor('bad400')).length;
    const res = await chat({ model: 'picky' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.message).toContain('temperature');
    expect(body.error.type).toBe('invalid_request_error');
    expect((await requestsFor('bad400')).length).toBe(before + 1);
  });

  it('falls back when the context is too long, to a model with a larger window only', async () => {
    const res = await chat({ model: 'fallback' });
    expect(res.status).toBe(200);
    // `good` has the same 8192-token window as `small`: it is skipped, `big` answers.
    expect(res.headers.get('x-mas-model')).toBe('big');
    expect(res.headers.get('x-mas-attempts')).toBe('2');
  });

  it('skips models without a credential, and says so when nothing is left', async () => {
    const res = await chat({ model: 'fast' });
    expect(res.headers.get('x-mas-model')).toBe('good');
    const none = await chat({ model: 'lonely' });
    expect(none.status).toBe(503);
    const text = await none.text();
    expect(text).toContain('MISSING_OPENAI_KEY');
    expect(text).not.toContain('sk-fake-key');
  });

  it('opens the circuit after repeated failures and skips the model while open', async () => {
    await fetch(`${fake}/__scripts/trip`, {
      method: 'POST',
      body: JSON.stringify(['500', '500', '500', 'ok', 'ok']),
    });
    const first = await chat({ model: 'trip' });
    expect(first.headers.get('x-mas-model')).toBe('good');
    const before = (await requestsFor('seq:trip')).length;
    const second = await chat({ model: 'trip' });
    expect(second.headers.get('x-mas-model')).toBe('good');
    expect(second.headers.get('x-mas-attempts')).toBe('1');
    expect((await requestsFor('seq:trip')).length).toBe(before);
  });

  it('a stalled upstream ends in 504 within the deadline, never a hang', async () => {
    const started = Date.now();
    const res = await chat({ model: 'slow' });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('forwards the correlation id and a child traceparent upstream, and never our caller key', async () => {
    await chat({ model: 'planning' }, { 'x-correlation-id': 'corr-chat-0001' });
    const seen = (await requestsFor('ok')) as Array<{ headers: Record<string, string> }>;
    const last = seen[seen.length - 1]!;
    expect(last.headers['x-correlation-id']).toBe('corr-chat-0001');
    expect(last.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(last.headers.authorization).toBe('Bearer sk-fake-key-0000000000000000000000');
  });
});

describe('streaming', () => {
  it('relays OpenAI chunks as SSE ending in [DONE]', async () => {
    const res = await chat({ model: 'planning', stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)) as { object: string });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    // Asked for include_usage, so the last chunk carries usage.
    expect((chunks[chunks.length - 1] as { usage?: unknown }).usage).toBeTruthy();
  });

  it("forwards the upstream's bytes untouched; the usage chunk only when asked, counted either way", async () => {
    const body = {
      model: 'ok',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    };
    const direct = await (
      await fetch(`${fake}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer sk-fake-key-0000000000000000000000',
        },
        body: JSON.stringify(body),
      })
    ).text();
    const asked = await (
      await chat({ model: 'planning', stream: true, stream_options: { include_usage: true } })
    ).text();
    expect(asked).toBe(direct);

    const { registry } = await import('../../shared/metrics/registry.ts');
    const completionTokens = async () =>
      Number(
        /llm_tokens_total\{provider="fake",model="good",type="completion"\} (\d+)/.exec(
          await registry.getSingleMetricAsString('llm_tokens_total'),
        )?.[1] ?? 0,
      );
    const before = await completionTokens();
    const res = await chat({ model: 'planning', stream: true });
    const notAsked = await res.text();
    // The gateway asked for usage upstream to count it; the caller did not, so it does not see it.
    const usageEvent = direct.split('\n\n').find((e) => e.includes('"choices":[]'))!;
    expect(usageEvent).toContain('"usage":{');
    expect(notAsked).toBe(direct.replace(`${usageEvent}\n\n`, ''));
    expect((await requestsFor('ok')).at(-1)).toMatchObject({
      body: { stream_options: { include_usage: true } },
    });
    await vi.waitFor(async () => expect(await completionTokens()).toBeGreaterThan(before));
  });

  it('an upstream dying mid-stream ends the SSE with an error event, not a silent cut', async () => {
    const res = await chat({ model: 'cut', stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('event: error');
    expect(text).not.toContain('[DONE]');
    // Framed at an event boundary: whole chunks, then the error event, nothing half-sent.
    const events = text.split('\n\n');
    expect(events.pop()).toBe('');
    expect(events.pop()).toMatch(/^event: error\ndata: \{"error":\{"message":"Upstream stream failed: /);
    for (const event of events) expect(() => JSON.parse(event.slice('data: '.length))).not.toThrow();
  });
});

describe('client disconnect and accounting', () => {
  it('a caller that goes away mid-stream aborts the upstream call', async () => {
    const controller = new AbortController();
    const ctx = createExecutionContext();
    const res = await chatApp.fetch(
      new Request('http://mas.test/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer('agent') },
        body: JSON.stringify({
          model: 'slow-stream',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        }),
        signal: controller.signal,
      }),
      await env(),
      ctx,
    );
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await waitOnExecutionContext(ctx);
    let seen: Array<{ aborted?: boolean }> = [];
    for (let i = 0; i < 30 && seen[seen.length - 1]?.aborted !== true; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = (await requestsFor('slowstream')) as Array<{ aborted?: boolean }>;
    }
    expect(seen[seen.length - 1]?.aborted).toBe(true);
  });

  it('counts requests and tokens per provider, model and role', async () => {
    const { registry } = await import('../../shared/metrics/registry.ts');
    const before = await registry.getSingleMetricAsString('llm_tokens_total');
    await chat({ model: 'planning' });
    const requests = await registry.getSingleMetricAsString('llm_requests_total');
    expect(requests).toContain(
      'llm_requests_total{provider="fake",model="good",role="planning",status="ok"}',
    );
    const tokens = await registry.getSingleMetricAsString('llm_tokens_total');
    expect(tokens).toMatch(/llm_tokens_total\{provider="fake",model="good",type="completion"\} \d+/);
    expect(tokens).not.toBe(before);
  });
});

describe.skipIf(inject('stackInfo').redis !== 'ok')('circuit state shared through Redis', () => {
  it('a circuit opened by one isolate is open for another', async () => {
    const { CircuitBreaker } = await import('../../shared/llm/circuit-breaker.ts');
    const { getRedis } = await import('../../shared/redis/client.ts');
    const { getSettings } = await import('../../shared/env.ts');
    const redis = getRedis(getSettings(await testEnv()))!;
    const key = `test:${crypto.randomUUID()}`;
    const policy = {
      window_ms: 10_000,
      buckets: 10,
      min_calls: 2,
      failure_rate: 0.5,
      open_ms: 60_000,
      max_open_ms: 60_000,
    };
    const isolateA = new CircuitBreaker(policy, redis);
    for (let i = 0; i < 2; i++) {
      const admission = await isolateA.admit(key, 1000);
      if (admission.allowed) await admission.permit.failure();
    }
    resetLocalCircuits(); // isolate B starts with nothing local
    const isolateB = new CircuitBreaker(policy, redis);
    expect(await isolateB.admit(key, 1000)).toMatchObject({ allowed: false, reason: 'open' });
    await redis.del(`mas:cb:${key}:state`);
  });
});

describe('the official openai client against our /v1', () => {
  it('works unchanged, streaming included', async () => {
    const e = await env();
    const client = new OpenAI({
      apiKey: 'mas_test_agent_key_0123456789abcdef',
      baseURL: 'http://mas.test/v1',
      maxRetries: 0,
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const ctx = createExecutionContext();
        const res = await chatApp.fetch(new Request(input, init), e, ctx);
        await waitOnExecutionContext(ctx);
        return res;
      },
    });
    const completion = await client.chat.completions.create({
      model: 'planning',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices[0]!.message.content).toBe('Hello from the fake.');
    const tools = await client.chat.completions.create({
      model: 'tools',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
    });
    expect(tools.choices[0]!.message.tool_calls?.[0]).toMatchObject({
      id: 'call_fake_1',
      function: { name: 'get_weather' },
    });
    const stream = await client.chat.completions.create({
      model: 'planning',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    expect(content).toBe('Hello from the fake.');
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['good', 'role:planning']));
  });
});
