import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import chatApp from './index.ts';

const anthropic = inject('anthropicFakeUrl');
const gemini = inject('geminiFakeUrl');
const openai = inject('openaiFakeUrl');

const MODELS_YAML = `
providers:
  claude: { type: anthropic, base_url: ${anthropic}, api_key_env: ANTHROPIC_API_KEY, timeout_ms: 1500, default_max_tokens: 777 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
  oai: { type: openai, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
models:
  - { id: c-ok, provider: claude, upstream: ok, capabilities: [chat, tools, vision, json, embeddings], context_window: 200000 }
  - { id: c-tools, provider: claude, upstream: tools, capabilities: [chat, tools], context_window: 200000 }
  - { id: c-cached, provider: claude, upstream: cached, capabilities: [chat], context_window: 200000 }
  - { id: c-refusal, provider: claude, upstream: refusal, capabilities: [chat], context_window: 200000 }
  - { id: c-over, provider: claude, upstream: overloaded, capabilities: [chat], context_window: 200000 }
  - { id: c-auth, provider: claude, upstream: auth401, capabilities: [chat], context_window: 200000 }
  - { id: c-bad, provider: claude, upstream: bad400, capabilities: [chat], context_window: 200000 }
  - { id: c-long, provider: claude, upstream: ctx-too-long, capabilities: [chat], context_window: 200000 }
  - { id: c-mid, provider: claude, upstream: midstream, capabilities: [chat], context_window: 200000 }
  - { id: c-first, provider: claude, upstream: errorfirst, capabilities: [chat], context_window: 200000 }
  - { id: c-stall, provider: claude, upstream: stallstream, capabilities: [chat], context_window: 200000 }
  - { id: c-seq, provider: claude, upstream: "seq:chat-flaky", capabilities: [chat], context_window: 200000 }
  - { id: g-ok, provider: google, upstream: ok, capabilities: [chat], context_window: 1000000 }
  - { id: o-ok, provider: oai, upstream: ok, capabilities: [chat], context_window: 1047576 }
roles:
  to-gemini: [c-over, g-ok]
  to-openai: [c-auth, o-ok]
  longer: [c-long, o-ok]
  first-fails: [c-first, o-ok]
  flaky: [c-seq, o-ok]
policy:
  retries: 1
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 3000
  deadline_ms: 6000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

const KEY = 'sk-ant-fake-0000000000000000000000000';
const env = () =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    ANTHROPIC_API_KEY: KEY,
    GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
    OPENAI_API_KEY: 'sk-fake-openai-000000000000000000000',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  });

async function chat(body: Record<string, unknown>) {
  return call(chatApp, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    env: await env(),
  });
}

type Recorded = { path: string; body: Record<string, unknown>; headers: Record<string, string> };
const received = async (model: string) =>
  (await (await fetch(`${anthropic}/__requests/${encodeURIComponent(model)}`)).json()) as Recorded[];
const lastRequest = async (model: string) => (await received(model)).at(-1)!;

async function client() {
  const e = await env();
  return new OpenAI({
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
}

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

beforeEach(() => resetLocalCircuits());

describe('Anthropic provider, through /v1/chat/completions', () => {
  it('translates the request: system, merged turns, images, tools, tool results, options', async () => {
    const res = await chat({
      model: 'c-ok',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Use metric units.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
        { role: 'user', content: 'And the weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      ],
      tools: [weatherTool],
      tool_choice: 'required',
      parallel_tool_calls: false,
      temperature: 1.5,
      top_p: 0.9,
      stop: 'END',
      user: 'agent-7',
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-provider')).toBe('claude');
    const sent = await lastRequest('ok');
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toEqual({
      model: 'ok',
      max_tokens: 777,
      stream: false,
      system: 'Be brief.\n\nUse metric units.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
            { type: 'text', text: 'And the weather?' },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18C' }] },
      ],
      tools: [
        {
          name: 'get_weather',
          description: 'Weather for a city',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      temperature: 1,
      top_p: 0.9,
      stop_sequences: ['END'],
      metadata: { user_id: 'agent-7' },
      output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
    });
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]!.message.content).toBe('Tool said: 18C');
  });

  it('maps usage with cache tokens and the stop reasons', async () => {
    const cached = (await (await chat({ model: 'c-cached', max_tokens: 50 })).json()) as {
      usage: Record<string, unknown>;
      choices: Array<{ finish_reason: string }>;
    };
    expect(cached.usage).toEqual({
      prompt_tokens: 132,
      completion_tokens: 6,
      total_tokens: 138,
      prompt_tokens_details: { cached_tokens: 100, cache_creation_tokens: 20 },
    });
    expect(cached.choices[0]!.finish_reason).toBe('stop');
    expect((await lastRequest('cached')).body.max_tokens).toBe(50);
    const refusal = (await (await chat({ model: 'c-refusal' })).json()) as {
      choices: Array<{ finish_reason: string }>;
    };
    expect(refusal.choices[0]!.finish_reason).toBe('content_filter');
  });

  it('the official openai client: plain, stream, tools (streamed tool calls too)', async () => {
    const openaiClient = await client();
    const plain = await openaiClient.chat.completions.create({
      model: 'c-ok',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(plain.object).toBe('chat.completion');
    expect(plain.choices[0]!.message.content).toBe('Hello from the Anthropic fake.');
    expect(plain.usage?.prompt_tokens).toBe(12);

    const stream = await openaiClient.chat.completions.create({
      model: 'c-ok',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    });
    let content = '';
    let finish: string | null = null;
    let usage: unknown;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(content).toBe('Hello from the Anthropic fake.');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 6 });

    const tools = await openaiClient.chat.completions.create({
      model: 'c-tools',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [weatherTool],
    });
    expect(tools.choices[0]!.finish_reason).toBe('tool_calls');
    expect(tools.choices[0]!.message.content).toBe('Let me check.');
    expect(tools.choices[0]!.message.tool_calls).toEqual([
      {
        id: 'toolu_fake_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);

    const runner = openaiClient.chat.completions.stream({
      model: 'c-tools',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [weatherTool],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls?.[0]).toMatchObject({
      id: 'toolu_fake_1',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
  });

  it('529 overloaded is retried, then falls back to Gemini in the OpenAI shape', async () => {
    const before = (await received('overloaded')).length;
    const res = await chat({ model: 'to-gemini' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('g-ok');
    expect(res.headers.get('x-mas-attempts')).toBe('3');
    expect((await received('overloaded')).length).toBe(before + 2);
    const body = (await res.json()) as { object: string; choices: Array<{ message: { content: string } }> };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.content).toBeTruthy();
  });

  it('401 moves on to OpenAI at once; 429 waits for retry-after; a long prompt falls back', async () => {
    const auth = await chat({ model: 'to-openai' });
    expect(auth.status).toBe(200);
    expect(auth.headers.get('x-mas-model')).toBe('o-ok');
    expect(auth.headers.get('x-mas-attempts')).toBe('2');

    await fetch(`${anthropic}/__scripts/chat-flaky`, { method: 'POST', body: JSON.stringify(['429', 'ok']) });
    const started = Date.now();
    const limited = await chat({ model: 'flaky' });
    expect(limited.headers.get('x-mas-model')).toBe('c-seq');
    expect(limited.headers.get('x-mas-attempts')).toBe('2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    const longer = await chat({ model: 'longer' });
    expect(longer.headers.get('x-mas-model')).toBe('o-ok');
  });

  it('400 invalid_request_error is the caller’s: returned at once with its message', async () => {
    const before = (await received('bad400')).length;
    const res = await chat({ model: 'c-bad' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('temperature');
    expect((await received('bad400')).length).toBe(before + 1);
  });

  it('an error event before the first chunk falls back; one mid-stream ends with an error event', async () => {
    const first = await chat({ model: 'first-fails', stream: true });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-mas-model')).toBe('o-ok');
    expect(await first.text()).toContain('data: [DONE]');

    const mid = await chat({ model: 'c-mid', stream: true });
    expect(mid.status).toBe(200);
    const text = await mid.text();
    expect(text).toContain('Hello');
    expect(text).toContain('event: error');
    expect(text).toContain('overloaded_error');
    expect(text).not.toContain('[DONE]');
  });

  it('a stream that stalls after message_start ends with an error event, never a hang', async () => {
    const started = Date.now();
    const res = await chat({ model: 'c-stall', stream: true });
    const text = await res.text();
    expect(text).toContain('event: error');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects what Anthropic cannot take with a clear 400: n > 1, audio parts, embeddings', async () => {
    const n = await chat({ model: 'c-ok', n: 2 });
    expect(n.status).toBe(400);
    expect(((await n.json()) as { error: { message: string } }).error.message).toContain('`n` must be 1');
    const audio = await chat({
      model: 'c-ok',
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
      ],
    });
    expect(audio.status).toBe(400);
    const { default: embedApp } = await import('../embed/index.ts');
    const embed = await call(embedApp, '/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent') },
      body: JSON.stringify({ model: 'c-ok', input: 'hello' }),
      env: await env(),
    });
    expect(embed.status).toBe(400);
    const error = ((await embed.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('embeddings_not_supported');
    expect(error.message).toContain('Anthropic has no embeddings API');
  });
});

describe('a newcomer with only ANTHROPIC_API_KEY set', () => {
  it('gets every chat role of the bundled registry answered by Claude', async () => {
    const newcomer = await testEnv({
      ANTHROPIC_API_KEY: KEY,
      ANTHROPIC_BASE_URL: anthropic,
      OPENAI_API_KEY: undefined,
      GOOGLE_API_KEY: undefined,
      GEMINI_API_KEY: undefined,
      LLM_BASE_URL: undefined,
      LLM_DEFAULT_PROVIDER: undefined,
      MAS_MODELS_YAML: undefined,
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
    });
    for (const role of ['planning', 'execution', 'fast', 'fallback']) {
      const res = await call(chatApp, '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer('agent') },
        body: JSON.stringify({ model: role, messages: [{ role: 'user', content: 'hi' }] }),
        env: newcomer,
      });
      expect(res.status, role).toBe(200);
      expect(res.headers.get('x-mas-provider'), role).toBe('anthropic');
      expect(res.headers.get('x-mas-model'), role).toMatch(/^claude-/);
      const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
      expect(body.choices[0]!.message.content).toBe('Hello from the Anthropic fake.');
    }
  });
});
