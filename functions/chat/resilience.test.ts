import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Env } from '../../shared/env.ts';
import { CircuitBreaker, openCircuits, resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { registry } from '../../shared/metrics/registry.ts';
import { bearer, KEYS, testEnv } from '../../test/workers/helpers.ts';
import readyApp from '../ready/index.ts';
import chatApp from './index.ts';

// Router resilience against the OpenAI protocol fake, in workerd, with the real Redis where a
// test says so. Bounds, not speed: margins are generous for a loaded 2-core machine.

const fake = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');
const redisUp = inject('stackInfo').redis === 'ok';
const DEAD = 'http://127.0.0.1:9/v1'; // nothing listens: connections are refused
/** Model ids and fake modes unique to this run: circuits in Redis and fake state start empty. */
const run = crypto.randomUUID().slice(0, 8);

const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: FAKE_KEY, timeout_ms: 500 }
  quick: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 500 }
models:
  - { id: o-stall, provider: quick, upstream: stallstream, capabilities: [chat], context_window: 8192 }
  - { id: g-stall, provider: google, upstream: stallstream, capabilities: [chat], context_window: 8192 }
  - { id: blips-${run}, provider: fake, upstream: "random:3:${run}", capabilities: [chat], context_window: 8192 }
  - { id: flip-${run}, provider: fake, upstream: "mode:flip-${run}", capabilities: [chat], context_window: 8192 }
  - { id: half-${run}, provider: fake, upstream: "mode:half-${run}", capabilities: [chat], context_window: 8192 }
  - { id: halfr-${run}, provider: fake, upstream: "mode:halfr-${run}", capabilities: [chat], context_window: 8192 }
  - { id: burst-${run}, provider: fake, upstream: "mode:burst-${run}", capabilities: [chat], context_window: 8192 }
  - { id: down-${run}, provider: fake, upstream: "mode:down-${run}", capabilities: [chat], context_window: 8192 }
  - { id: limited, provider: fake, upstream: "mode:limited-${run}", capabilities: [chat], context_window: 8192 }
  - { id: small, provider: fake, upstream: "mode:small-${run}", capabilities: [chat], context_window: 8192 }
  - { id: picky, provider: fake, upstream: "mode:picky-${run}", capabilities: [chat], context_window: 8192 }
roles:
  blips: [blips-${run}]
  flip: [flip-${run}]
  half: [half-${run}]
  halfr: [halfr-${run}]
  burst: [burst-${run}]
  down: [down-${run}]
  limited: [limited]
  small: [small]
  picky: [picky]
  g-stall: [g-stall]
  o-stall: [o-stall]
policy:
  retries: 2
  backoff: { base_ms: 10, max_ms: 50 }
  retry_after_cap_ms: 500
  deadline_ms: 8000
  retry_budget: { ratio: 0.1, min_retries: 3, window_ms: 60000 }
  circuit_breaker: { open_ms: 1000 }
`;

const KEY = 'sk-fake-key-0000000000000000000000';
const NO_REDIS = { UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined };
const env = (over: Record<string, string | undefined> = {}) =>
  testEnv({ MAS_MODELS_YAML: MODELS_YAML, FAKE_KEY: KEY, ...over });

async function chat(e: Env, model: string, extra: Record<string, unknown> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await chatApp.fetch(
    new Request('http://mas.test/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent') },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    }),
    e,
    ctx,
  );
  await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res;
}

const setMode = (name: string, mode: string) =>
  fetch(`${fake}/__modes/${name}`, { method: 'POST', body: JSON.stringify(mode) });
const seen = async (upstream: string) =>
  ((await (await fetch(`${fake}/__requests/${encodeURIComponent(upstream)}`)).json()) as unknown[]).length;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `model` at `perSecond` until `stop()` says so; returns what came back, in order. */
async function steady(
  e: Env,
  model: string,
  perSecond: number,
  stop: (sent: number, results: Array<{ status: number; at: number; res: Response }>) => boolean,
) {
  const results: Array<{ status: number; at: number; res: Response }> = [];
  const pending: Promise<void>[] = [];
  const started = Date.now();
  for (let i = 0; !stop(i, results); i++) {
    const wait = started + (i * 1000) / perSecond - Date.now();
    if (wait > 0) await pause(wait);
    pending.push(
      chat(e, model).then((res) => void results.push({ status: res.status, at: Date.now(), res })),
    );
  }
  await Promise.all(pending);
  return results;
}

async function tripCircuit(e: Env, model: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const res = await chat(e, model);
    if (res.status === 503) return;
  }
  throw new Error(`the circuit of ${model} never opened`);
}

async function waitFor(condition: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await pause(20);
  }
}

beforeAll(async () => {
  // Fixed behaviours under names of this run's own, so other files' requests are not counted.
  await setMode(`down-${run}`, 'fail500');
  await setMode(`limited-${run}`, 'rate429');
  await setMode(`small-${run}`, 'ctx-too-long');
  await setMode(`picky-${run}`, 'bad400');
});
beforeEach(() => resetLocalCircuits());

describe('circuit breaker', () => {
  it('3 % transient upstream failures at 20 req/s for 30 s: >= 99.5 % succeed, the circuit never opens', async () => {
    expect(redisUp, 'the test stack runs Redis').toBe(true);
    const e = await env();
    const before = await seen(`random:3:${run}`);
    const results = await steady(e, 'blips', 20, (sent) => sent >= 600);
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok / results.length).toBeGreaterThanOrEqual(0.995);
    expect(results.filter((r) => r.status === 503)).toEqual([]);
    // The upstream did fail (retries happened), and the breaker never left closed.
    expect((await seen(`random:3:${run}`)) - before).toBeGreaterThan(600);
    expect(openCircuits().filter((c) => c.key.includes(run))).toEqual([]);
    const gauge = await registry.getSingleMetricAsString('llm_circuit_state');
    expect(gauge).not.toMatch(new RegExp(`model="blips-${run}"} [12]`));
  }, 120_000);

  it('a hard outage opens the circuit within 2 s; a recovery closes it within one probe interval', async () => {
    const e = await env();
    await setMode(`flip-${run}`, 'ok');
    expect((await chat(e, 'flip')).status).toBe(200);
    await setMode(`flip-${run}`, '500');
    const outage = Date.now();
    const during = await steady(
      e,
      'flip',
      20,
      (_, r) => r.some((x) => x.status === 503) || Date.now() - outage > 10_000,
    );
    const opened = during.find((r) => r.status === 503)!;
    expect(opened, 'the circuit opened').toBeDefined();
    expect(opened.at - outage).toBeLessThan(2000);
    expect(opened.res.headers.get('retry-after')).toBe('1'); // open_ms 1000
    expect(opened.res.headers.get('x-mas-attempts')).toBe('0');
    // /ready says so, in its llm_upstream check.
    const ready = await readyApp.fetch(new Request('http://mas.test/ready'), e, createExecutionContext());
    const checks = ((await ready.json()) as { checks: Record<string, { circuits?: string[] }> }).checks;
    expect(checks.llm_upstream?.circuits).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^fake:flip-${run} (open|half-open)`))]),
    );
    // While open, the upstream is left alone.
    const quiet = await seen(`mode:flip-${run}`);
    const turnedAway = await chat(e, 'flip');
    expect(turnedAway.status).toBe(503);
    expect(await seen(`mode:flip-${run}`)).toBe(quiet);

    await setMode(`flip-${run}`, 'ok');
    const recovery = Date.now();
    const after = await steady(
      e,
      'flip',
      20,
      (_, r) => r.some((x) => x.status === 200) || Date.now() - recovery > 10_000,
    );
    const closed = after.find((r) => r.status === 200)!;
    expect(closed, 'the circuit closed').toBeDefined();
    // One probe interval (open_ms = 1 s), plus room for a loaded machine.
    expect(closed.at - recovery).toBeLessThan(1000 + 1000);
    expect((await chat(e, 'flip')).status).toBe(200);
    const gauge = await registry.getSingleMetricAsString('llm_circuit_state');
    expect(gauge).toContain(`llm_circuit_state{provider="fake",model="flip-${run}"} 0`);
  });

  it.each([
    ['per isolate', 'half', NO_REDIS],
    ['shared through Redis', 'halfr', {}],
  ] as const)(
    'half-open (%s): 20 concurrent requests, exactly one reaches the upstream',
    async (_, role, over) => {
      if (role === 'halfr') expect(redisUp, 'the test stack runs Redis').toBe(true);
      const e = await env(over);
      const upstream = `mode:${role}-${run}`;
      await setMode(`${role}-${run}`, '500');
      await tripCircuit(e, role);
      await waitFor(
        () => openCircuits().some((c) => c.key === `fake:${role}-${run}` && c.state === 'half_open'),
        5000,
      );
      // The probe takes a while, so all 20 arrive while it is out.
      await setMode(`${role}-${run}`, 'delay:1500');
      const before = await seen(upstream);
      const results = await Promise.all(Array.from({ length: 20 }, () => chat(e, role)));
      expect(await seen(upstream)).toBe(before + 1);
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      const refused = results.filter((r) => r.status === 503);
      expect(refused).toHaveLength(19);
      for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // The probe succeeded: closed for everyone.
      await setMode(`${role}-${run}`, 'ok');
      expect((await chat(e, role)).status).toBe(200);
    },
  );

  it('the probe lease is shared: a second isolate is refused while the first probes', async () => {
    expect(redisUp, 'the test stack runs Redis').toBe(true);
    const { getRedis } = await import('../../shared/redis/client.ts');
    const { getSettings } = await import('../../shared/env.ts');
    const redis = getRedis(getSettings(await testEnv()))!;
    const key = `test:lease-${crypto.randomUUID()}`;
    const policy = {
      window_ms: 10_000,
      buckets: 10,
      min_calls: 2,
      failure_rate: 0.5,
      open_ms: 50,
      max_open_ms: 60_000,
    };
    const a = new CircuitBreaker(policy, redis);
    for (let i = 0; i < 2; i++) {
      const admission = await a.admit(key, 5000);
      if (admission.allowed) await admission.permit.failure();
    }
    await pause(60);
    resetLocalCircuits(); // isolate B: nothing local
    const probe = await new CircuitBreaker(policy, redis).admit(key, 5000);
    expect(probe.allowed && probe.permit.probe).toBe(true);
    resetLocalCircuits(); // isolate C
    expect(await new CircuitBreaker(policy, redis).admit(key, 5000)).toMatchObject({ allowed: false });
    if (probe.allowed) await probe.permit.success();
    resetLocalCircuits(); // isolate D sees it closed
    expect((await new CircuitBreaker(policy, redis).admit(key, 5000)).allowed).toBe(true);
  });

  it('after a 429 burst ends, chat is back within the Retry-After + 1 s, and the burst is not retried into', async () => {
    const e = await env();
    await setMode(`burst-${run}`, '429:2');
    const limited = await chat(e, 'burst');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    const lastLimit = Date.now();
    // Within the cool-down the upstream is not called: 429 at once, still saying when.
    const before = await seen(`mode:burst-${run}`);
    const again = await chat(e, 'burst');
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await seen(`mode:burst-${run}`)).toBe(before);
    await setMode(`burst-${run}`, 'ok');
    let back = 0;
    await waitFor(async () => {
      const res = await chat(e, 'burst');
      back = Date.now();
      return res.status === 200;
    }, 10_000);
    expect(back - lastLimit).toBeLessThan(2000 + 1000);
  });
});

describe('retry budget', () => {
  it('a failing upstream sees at most (1 + budgeted retries) attempts per caller request', async () => {
    const e = await env({
      ...NO_REDIS,
      MAS_MODELS_YAML: MODELS_YAML.replace('{ open_ms: 1000 }', '{ min_calls: 1000 }'),
    });
    const before = await seen(`mode:down-${run}`);
    let attempts = 0;
    for (let i = 0; i < 30; i++) {
      const res = await chat(e, 'down');
      expect(res.status).toBe(502);
      const n = Number(res.headers.get('x-mas-attempts'));
      attempts += n;
      expect(n).toBeLessThanOrEqual(3);
      // The gateway retried already: the SDKs are told not to multiply it.
      if (n > 1) expect(res.headers.get('x-should-retry')).toBe('false');
    }
    const reached = (await seen(`mode:down-${run}`)) - before;
    expect(reached).toBe(attempts);
    // 30 requests; retries <= min_retries (3) + 10 % of 30 requests; without the budget: 90.
    expect(reached).toBeLessThanOrEqual(30 + 3 + 3);
    expect(reached).toBeGreaterThanOrEqual(30 + 3);
  });
});

describe('upstream errors as OpenAI clients expect them', () => {
  const client = (e: Env) =>
    new OpenAI({
      apiKey: KEYS.agent,
      baseURL: 'http://mas.test/v1',
      maxRetries: 0,
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const ctx = createExecutionContext();
        const res = await chatApp.fetch(new Request(input, init), e, ctx);
        await waitOnExecutionContext(ctx);
        return res;
      },
    });

  it('an upstream 429 is a RateLimitError carrying the upstream Retry-After', async () => {
    const e = await env(NO_REDIS);
    const err = await client(e)
      .chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rate = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rate.status).toBe(429);
    expect(rate.code).toBe('rate_limit_exceeded');
    expect(rate.headers.get('retry-after')).toBe('1');
    expect(rate.headers.get('x-mas-model')).toBe('limited');
    expect(rate.headers.get('x-mas-attempts')).toBe('1');
  });

  it('context too long is a BadRequestError with the upstream code, and reaches the upstream once', async () => {
    const e = await env(NO_REDIS);
    const before = await seen(`mode:small-${run}`);
    const err = await client(e)
      .chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.code).toBe('context_length_exceeded');
    expect(bad.param).toBe('messages');
    expect(bad.type).toBe('invalid_request_error');
    expect(bad.message).toContain("This model's maximum context length is 8192 tokens.");
    expect(bad.headers.get('x-mas-provider')).toBe('fake');
    expect(bad.headers.get('x-mas-model')).toBe('small');
    expect(await seen(`mode:small-${run}`)).toBe(before + 1);
    // One caller's long prompts are not the model's failures: 15 more (past the breaker's 10
    // calls at 100 %) still each reach the upstream and come back as the caller's 400.
    for (let i = 0; i < 15; i++) {
      const again = (await client(e)
        .chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] })
        .catch((x: unknown) => x)) as InstanceType<typeof OpenAI.BadRequestError>;
      expect(again.code).toBe('context_length_exceeded');
    }
    expect(await seen(`mode:small-${run}`)).toBe(before + 16);
  });

  it('another caller 400 keeps the upstream status, message, type, code and param, and never opens a circuit', async () => {
    const e = await env(NO_REDIS);
    const before = await seen(`mode:picky-${run}`);
    for (let i = 0; i < 15; i++) {
      const err = (await client(e)
        .chat.completions.create({ model: 'picky', messages: [{ role: 'user', content: 'hi' }] })
        .catch((x: unknown) => x)) as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error).toEqual({
        message: "Invalid value for 'temperature'.",
        type: 'invalid_request_error',
        code: 'invalid_value',
        param: 'temperature',
      });
    }
    expect(await seen(`mode:picky-${run}`)).toBe(before + 15);
  });
});

describe('fallback in the simple setup (LLM_BASE_URL)', () => {
  const simple = (over: Record<string, string | undefined>) =>
    testEnv({
      ...NO_REDIS,
      MAS_MODELS_YAML: undefined,
      LLM_DEFAULT_PROVIDER: 'openai_compatible',
      LLM_BASE_URL: `${fake}/v1`,
      ...over,
    });

  it('LLM_MODEL_<ROLE> is a chain of names on that server', async () => {
    const res = await chat(await simple({ LLM_MODEL_PLANNING: 'fail500, ok' }), 'planning');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('planning@local.2');
    expect(res.headers.get('x-mas-attempts')).toBe('4'); // fail500 three times, then ok
  });

  it('LLM_FALLBACK_BASE_URL is tried after the first server', async () => {
    const res = await chat(
      await simple({ LLM_BASE_URL: DEAD, LLM_FALLBACK_BASE_URL: `${fake}/v1`, LLM_MODEL_FAST: 'ok' }),
      'fast',
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-provider')).toBe('local_fallback');
    expect(res.headers.get('x-mas-model')).toBe('fast@fallback');
  });

  it('a stalled attempt times out on its own (LLM_TIMEOUT_MS), well inside the deadline', async () => {
    const started = Date.now();
    const res = await chat(
      await simple({ LLM_MODEL_EXECUTION: 'stall,ok', LLM_TIMEOUT_MS: '300' }),
      'execution',
      {
        stream: true,
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('execution@local.2');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('OpenAI byte streams (the tap)', () => {
  it('end with an error event once the upstream goes quiet mid-way (the idle timer, on workerd), and the upstream request is closed', async () => {
    const e = await env(NO_REDIS);
    const started = Date.now();
    const ctx = createExecutionContext();
    const res = await chatApp.fetch(
      new Request('http://mas.test/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer('agent') },
        body: JSON.stringify({ model: 'o-stall', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      }),
      e,
      ctx,
    );
    expect(res.status).toBe(200);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    // The two chunks sent, whole, then the error event at that boundary, and no [DONE].
    expect(text.split('\n\n').filter((event) => event.startsWith('data: {')).length).toBe(2);
    expect(text).toMatch(/\n\nevent: error\ndata: .*sent nothing for 500 ms.*\n\n$/);
    expect(text).not.toContain('[DONE]');
    expect(Date.now() - started).toBeLessThan(5000);
    let closedAt: number | undefined;
    await waitFor(async () => {
      const list = (await (await fetch(`${fake}/__requests/stallstream`)).json()) as Array<{
        closedAt?: number;
      }>;
      closedAt = list[list.length - 1]?.closedAt;
      return closedAt !== undefined;
    }, 5000);
    expect(closedAt).toBeDefined();
  });
});

describe('Gemini streams', () => {
  it('get the same per-chunk idle timeout as OpenAI streams, and the upstream request is closed', async () => {
    const e = await env(NO_REDIS);
    const started = Date.now();
    const ctx = createExecutionContext();
    const res = await chatApp.fetch(
      new Request('http://mas.test/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer('agent') },
        body: JSON.stringify({ model: 'g-stall', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      }),
      e,
      ctx,
    );
    expect(res.status).toBe(200);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    expect(text).toContain('Hello');
    expect(text).toContain('event: error');
    expect(text).toContain('sent nothing for 500 ms');
    expect(text).not.toContain('[DONE]');
    expect(Date.now() - started).toBeLessThan(5000);
    let closedAt: number | undefined;
    await waitFor(async () => {
      const list = (await (await fetch(`${gemini}/__requests/stallstream`)).json()) as Array<{
        closedAt?: number;
      }>;
      closedAt = list[list.length - 1]?.closedAt;
      return closedAt !== undefined;
    }, 5000);
    expect(closedAt).toBeDefined();
  });
});
