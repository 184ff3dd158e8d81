import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { registry } from '../../shared/metrics/registry.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import { assertOpenAI, chatChunks } from '../../test/workers/openai-spec.ts';
import app from './index.ts';

/**
 * Chat Completions, models and error bodies as the gateway sends them, validated against OpenAI's
 * published OpenAPI description, for every provider type behind the one surface: OpenAI (native),
 * OpenAI-compatible, Gemini and Anthropic (translated).
 */
const openai = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');
const anthropic = inject('anthropicFakeUrl');

const MODELS_YAML = `
providers:
  oai: { type: openai, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  compat: { type: openai_compatible, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
  claude: { type: anthropic, base_url: ${anthropic}, api_key_env: ANTHROPIC_API_KEY, timeout_ms: 2000 }
models:
  - { id: o-ok, provider: oai, upstream: ok, capabilities: [chat, json], context_window: 128000 }
  - { id: o-tools, provider: oai, upstream: tools, capabilities: [chat, tools], context_window: 128000 }
  - { id: o-bad, provider: oai, upstream: bad400, capabilities: [chat], context_window: 128000 }
  - { id: o-429, provider: oai, upstream: rate429, capabilities: [chat], context_window: 128000 }
  - { id: x-ok, provider: compat, upstream: ok, capabilities: [chat, json], context_window: 128000 }
  - { id: x-tools, provider: compat, upstream: tools, capabilities: [chat, tools], context_window: 128000 }
  - { id: g-ok, provider: google, upstream: ok, capabilities: [chat, json], context_window: 1000000 }
  - { id: g-tools, provider: google, upstream: tools, capabilities: [chat, tools], context_window: 1000000 }
  - { id: c-ok, provider: claude, upstream: ok, capabilities: [chat, json], context_window: 200000 }
  - { id: c-tools, provider: claude, upstream: tools, capabilities: [chat, tools], context_window: 200000 }
  - { id: o-cut, provider: oai, upstream: midstream, capabilities: [chat], context_window: 128000 }
  - { id: x-cut, provider: compat, upstream: midstream, capabilities: [chat], context_window: 128000 }
  - { id: c-cut, provider: claude, upstream: midstream, capabilities: [chat], context_window: 200000 }
  - { id: e-small, provider: oai, upstream: embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
roles:
  planning: [o-ok, g-ok]
  embedding: [e-small]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 5000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

const env = () =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    OPENAI_API_KEY: 'sk-fake-openai-000000000000000000000',
    GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
    ANTHROPIC_API_KEY: 'sk-ant-fake-0000000000000000000000000',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  });

const chat = async (body: Record<string, unknown>, headers: Record<string, string> = bearer('agent')) =>
  call(app, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What is the weather in Paris?' }], ...body }),
    env: await env(),
  });

const get = async (path: string) => call(app, path, { headers: bearer('agent'), env: await env() });

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const structured = {
  type: 'json_schema',
  json_schema: {
    name: 'weather',
    strict: true,
    schema: {
      type: 'object',
      properties: { city: { type: 'string' }, sky: { type: 'string' } },
      required: ['city', 'sky'],
      additionalProperties: false,
    },
  },
};

type Completion = {
  choices: Array<{
    finish_reason: string;
    message: { content: string | null; tool_calls?: Array<{ id: string; function: { arguments: string } }> };
  }>;
  usage: { total_tokens: number };
};
type Chunk = {
  choices: Array<{
    delta: { content?: string | null; tool_calls?: Array<{ function?: { arguments?: string } }> };
    finish_reason: string | null;
  }>;
  usage?: { total_tokens: number } | null;
};

/** llm_tokens_total{type="completion"} of one model, summed over its provider. */
const completionTokens = async (model: string) => {
  const text = await registry.getSingleMetricAsString('llm_tokens_total');
  const line = new RegExp(`llm_tokens_total\\{provider="[^"]+",model="${model}",type="completion"\\} (\\d+)`);
  return Number(line.exec(text)?.[1] ?? 0);
};

beforeEach(() => resetLocalCircuits());

describe('the validator', () => {
  it('refuses what the spec refuses, and takes the nullable fields the spec marks with `nullable`', () => {
    const chunk = {
      id: 'c',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { content: 'x' }, logprobs: null, finish_reason: null }],
      usage: null,
    };
    assertOpenAI('CreateChatCompletionStreamResponse', chunk);
    const bad = { ...chunk, choices: [{ ...chunk.choices[0], finish_reason: 'done' }] };
    expect(() => assertOpenAI('CreateChatCompletionStreamResponse', bad)).toThrow(/finish_reason/);
    const noRefusal = {
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'x' }, logprobs: null, finish_reason: 'stop' },
      ],
    };
    expect(() => assertOpenAI('CreateChatCompletionResponse', noRefusal)).toThrow(/refusal/);
    expect(() => assertOpenAI('ErrorResponse', { error: { message: 'x', type: 't' } })).toThrow(/param/);
  });
});

describe.each([
  ['OpenAI', 'o'],
  ['OpenAI-compatible', 'x'],
  ['Gemini', 'g'],
  ['Anthropic', 'c'],
])('chat completions from %s match the spec', (_name, p) => {
  it('a plain answer', async () => {
    const res = await chat({ model: `${p}-ok` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Completion;
    assertOpenAI('CreateChatCompletionResponse', body);
    expect(body.choices[0]!.message.content).toMatch(/^Hello/);
    expect(body.usage.total_tokens).toBeGreaterThan(0);
  });

  it('a tool call', async () => {
    const res = await chat({ model: `${p}-tools`, tools: [weatherTool] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Completion;
    assertOpenAI('CreateChatCompletionResponse', body);
    expect(body.choices[0]!.finish_reason).toBe('tool_calls');
    expect(JSON.parse(body.choices[0]!.message.tool_calls![0]!.function.arguments)).toEqual({
      city: 'Paris',
    });
  });

  it('structured output (json_schema)', async () => {
    const res = await chat({ model: `${p}-ok`, response_format: structured });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Completion;
    assertOpenAI('CreateChatCompletionResponse', body);
    // The OpenAI fake answers JSON when asked; the Gemini and Anthropic fakes answer text.
    if (p === 'o' || p === 'x') expect(JSON.parse(body.choices[0]!.message.content!)).toHaveProperty('city');
  });

  it('every stream chunk, the usage chunk included', async () => {
    const res = await chat({ model: `${p}-ok`, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const chunks = chatChunks(await res.text()) as Chunk[];
    for (const chunk of chunks) assertOpenAI('CreateChatCompletionStreamResponse', chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toMatch(/^Hello/);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
    // Not asked for: usage is still counted, but no usage-only chunk reaches the caller.
    const before = await completionTokens(`${p}-ok`);
    const plain = chatChunks(await (await chat({ model: `${p}-ok`, stream: true })).text()) as Chunk[];
    for (const chunk of plain) assertOpenAI('CreateChatCompletionStreamResponse', chunk);
    expect(plain.some((c) => c.choices.length === 0)).toBe(false);
    expect(await completionTokens(`${p}-ok`)).toBeGreaterThan(before);
  });

  it('every chunk of a streamed tool call', async () => {
    const res = await chat({ model: `${p}-tools`, tools: [weatherTool], stream: true });
    expect(res.status).toBe(200);
    const chunks = chatChunks(await res.text()) as Chunk[];
    for (const chunk of chunks) assertOpenAI('CreateChatCompletionStreamResponse', chunk);
    const args = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .map((t) => t.function?.arguments ?? '')
      .join('');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
  });
});

describe('a stream that fails mid-way', () => {
  it.each(['o-cut', 'x-cut', 'c-cut'])(
    '%s: whole spec-valid chunks, then an error event whose data is an ErrorResponse',
    async (model) => {
      const res = await chat({ model, stream: true });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter((e) => e.trim());
      const last = events.pop()!;
      expect(last).toMatch(/^event: error\ndata: /);
      assertOpenAI('ErrorResponse', JSON.parse(last.slice(last.indexOf('data: ') + 6)));
      expect(events.length).toBeGreaterThan(0);
      for (const event of events) {
        expect(event.startsWith('data: {')).toBe(true);
        assertOpenAI('CreateChatCompletionStreamResponse', JSON.parse(event.slice(6)));
      }
    },
  );
});

describe('models match the spec', () => {
  it('the list, and each listed id retrieved (registry ids, roles, role:<name>)', async () => {
    const res = await get('/v1/models');
    expect(res.status).toBe(200);
    const list = (await res.json()) as { data: Array<{ id: string }> };
    assertOpenAI('ListModelsResponse', list);
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['o-ok', 'planning', 'role:planning', 'embedding']));
    for (const id of ids) {
      const one = await get(`/v1/models/${encodeURIComponent(id)}`);
      expect(one.status, id).toBe(200);
      const model = await one.json();
      assertOpenAI('Model', model);
      expect(model).toMatchObject({ id });
    }
  });
});

describe('error bodies match the spec (ErrorResponse)', () => {
  const errorOf = async (res: Response, status: number) => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string | null; param: string | null } };
    assertOpenAI('ErrorResponse', body);
    return body.error;
  };

  it('400: our own validation, and an upstream 400 passed on', async () => {
    expect(await errorOf(await chat({ model: 'o-ok', temperature: 9 }), 400)).toMatchObject({
      param: 'temperature',
    });
    expect(await errorOf(await chat({ model: 'o-ok', messages: 'hi' }), 400)).toMatchObject({
      param: 'messages',
    });
    expect(await errorOf(await chat({ model: 'o-bad' }), 400)).toMatchObject({
      code: 'invalid_value',
      param: 'temperature',
    });
  });

  it('401 without a key or with a malformed one', async () => {
    expect(await errorOf(await chat({ model: 'o-ok' }, {}), 401)).toMatchObject({ param: null });
    await errorOf(await chat({ model: 'o-ok' }, { authorization: 'Bearer nope' }), 401);
    await errorOf(await call(app, '/v1/models', { env: await env() }), 401);
  });

  it('404: an unknown model in a call and in /v1/models/{id}, an unknown route, an unsupported endpoint', async () => {
    expect(await errorOf(await chat({ model: 'gpt-nine' }), 404)).toMatchObject({ code: 'model_not_found' });
    expect(await errorOf(await get('/v1/models/gpt-nine'), 404)).toMatchObject({ code: 'model_not_found' });
    await errorOf(await get('/v1/no-such-thing'), 404);
    expect(
      await errorOf(
        await call(app, '/v1/moderations', { method: 'POST', headers: bearer('agent'), env: await env() }),
        404,
      ),
    ).toMatchObject({ code: 'unsupported_endpoint' });
  });

  it('429 when the upstream rate-limits the last model tried', async () => {
    const res = await chat({ model: 'o-429' });
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(await errorOf(res, 429)).toMatchObject({ code: 'rate_limit_exceeded' });
  });
});
