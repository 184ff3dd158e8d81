import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import { assertOpenAI } from '../../test/workers/openai-spec.ts';
import app from './index.ts';

const fake = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');
const anthropic = inject('anthropicFakeUrl');

const MODELS_YAML = `
providers:
  compat: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
  claude: { type: anthropic, base_url: ${anthropic}, api_key_env: ANTHROPIC_API_KEY, timeout_ms: 2000 }
models:
  - { id: instruct, provider: compat, upstream: ok, capabilities: [chat], context_window: 8192 }
  - { id: instruct-down, provider: compat, upstream: fail500, capabilities: [chat], context_window: 8192 }
  - { id: instruct-429, provider: compat, upstream: rate429, capabilities: [chat], context_window: 8192 }
  - { id: g-ok, provider: google, upstream: ok, capabilities: [chat], context_window: 8192 }
  - { id: c-ok, provider: claude, upstream: ok, capabilities: [chat], context_window: 200000 }
roles:
  claude-first: [c-ok, instruct]
  legacy: [instruct-down, g-ok]
  mixed: [g-ok, instruct]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 5000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

type Json = Record<string, unknown> & {
  choices: Array<Record<string, unknown>>;
  usage?: Record<string, number>;
};

const post = async (body: Record<string, unknown>) =>
  call(app, '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify(body),
    env: await testEnv({
      MAS_MODELS_YAML: MODELS_YAML,
      FAKE_KEY: 'sk-fake-key-0000000000000000000000',
      GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
      ANTHROPIC_API_KEY: 'sk-ant-fake-0000000000000000000000000',
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
    }),
  });

const lastRequest = async (upstream: string) =>
  (
    (await (await fetch(`${fake}/__requests/${upstream}`)).json()) as Array<{ body: Record<string, unknown> }>
  ).at(-1)!.body;

const chunks = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as Json);

beforeEach(() => resetLocalCircuits());

describe('POST /v1/completions', () => {
  it('forwards to an OpenAI-compatible upstream as sent: prompt arrays, max_tokens, stop, suffix', async () => {
    const res = await post({
      model: 'instruct',
      prompt: ['a', 'b'],
      max_tokens: 7,
      stop: ['\n'],
      suffix: 'END',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    assertOpenAI('CreateCompletionResponse', body);
    expect(body.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(body.choices[0]!.text).toBe('Hello from the fake, up to the suffix');
    expect(await lastRequest('ok')).toMatchObject({
      prompt: ['a', 'b'],
      max_tokens: 7,
      stop: ['\n'],
      suffix: 'END',
    });
  });

  it('translates for Gemini: each prompt one user turn, one choice per prompt, with usage', async () => {
    const res = await post({ model: 'g-ok', prompt: ['first', 'second'], max_tokens: 9 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    assertOpenAI('CreateCompletionResponse', body);
    expect(body.object).toBe('text_completion');
    expect(body.choices).toHaveLength(2);
    expect(body.choices[1]).toMatchObject({ index: 1, text: 'Hello from Gemini.', finish_reason: 'stop' });
    expect(body.usage!.total_tokens).toBe(body.usage!.prompt_tokens! + body.usage!.completion_tokens!);
  });

  it('an upstream 429 on the last model is a 429 rate_limit_exceeded with its Retry-After', async () => {
    const res = await post({ model: 'instruct-429', prompt: 'hi' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('x-mas-model')).toBe('instruct-429');
    const body = await res.json();
    assertOpenAI('ErrorResponse', body);
    expect(body).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('falls back from a failing compatible model to Gemini', async () => {
    const res = await post({ model: 'legacy', prompt: 'hi' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('g-ok');
  });

  it.each(['instruct', 'g-ok'])(
    '%s streams text_completion chunks ending in [DONE]; usage only if asked',
    async (model) => {
      const plain = await (await post({ model, prompt: 'hi', stream: true })).text();
      expect(plain.trim().endsWith('data: [DONE]')).toBe(true);
      const parts = chunks(plain);
      // The spec describes stream chunks with the non-streamed schema, whose finish_reason cannot be
      // null; OpenAI's own chunks carry null until the last one, as ours do.
      for (const chunk of parts) {
        const choices = chunk.choices.map((c) => ({ ...c, finish_reason: c.finish_reason ?? 'stop' }));
        assertOpenAI('CreateCompletionResponse', { ...chunk, choices });
      }
      expect(parts.map((p) => p.choices[0]?.text ?? '').join('')).toMatch(/^Hello from/);
      expect(parts.some((p) => p.choices.length === 0)).toBe(false);
      const asked = chunks(
        await (
          await post({ model, prompt: 'hi', stream: true, stream_options: { include_usage: true } })
        ).text(),
      );
      expect(asked.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
    },
  );

  it('what only OpenAI-type upstreams can take goes to them, or is a clear 400 when only Gemini is left', async () => {
    const routed = await post({ model: 'mixed', prompt: [1, 2, 3] });
    expect(routed.status).toBe(200);
    expect(routed.headers.get('x-mas-model')).toBe('instruct');
    for (const [body, param] of [
      [{ prompt: [1, 2, 3] }, 'prompt'],
      [{ prompt: 'x', suffix: 'y' }, 'suffix'],
      [{ prompt: ['a', 'b'], stream: true }, 'prompt'],
    ] as const) {
      const res = await post({ model: 'g-ok', ...body });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; param: string } };
      expect(error).toMatchObject({ code: 'unsupported_for_model', param });
    }
    // Anthropic has no completions endpoint either: translated through chat, with the same limits.
    const claude = await post({ model: 'c-ok', prompt: 'hi' });
    expect(claude.status).toBe(200);
    assertOpenAI('CreateCompletionResponse', await claude.json());
    const past = await post({ model: 'claude-first', prompt: [1, 2, 3] });
    expect(past.status).toBe(200);
    expect(past.headers.get('x-mas-model')).toBe('instruct');
    for (const body of [{ prompt: [1, 2, 3] }, { prompt: 'x', suffix: 'y' }]) {
      const res = await post({ model: 'c-ok', ...body });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_for_model');
    }
    expect((await post({ model: 'instruct' })).status).toBe(400);
    expect((await post({ model: 'instruct', prompt: 'x', max_tokens: 0 })).status).toBe(400);
  });
});
