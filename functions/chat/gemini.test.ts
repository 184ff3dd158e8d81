import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import chatApp from './index.ts';

const gemini = inject('geminiFakeUrl');
const openai = inject('openaiFakeUrl');

const MODELS_YAML = `
providers:
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
  oai: { type: openai, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
models:
  - { id: g-ok, provider: google, upstream: ok, capabilities: [chat, tools, vision, json], context_window: 1000000 }
  - { id: g-tools, provider: google, upstream: tools, capabilities: [chat, tools], context_window: 1000000 }
  - { id: g-down, provider: google, upstream: fail500, capabilities: [chat], context_window: 1000000 }
  - { id: g-quota, provider: google, upstream: rate429, capabilities: [chat], context_window: 1000000 }
  - { id: g-blocked, provider: google, upstream: blocked, capabilities: [chat], context_window: 1000000 }
  - { id: o-down, provider: oai, upstream: fail500, capabilities: [chat], context_window: 128000 }
  - { id: o-ok, provider: oai, upstream: ok, capabilities: [chat], context_window: 128000 }
roles:
  planning: [o-down, g-ok]
  execution: [g-down, o-ok]
  quota: [g-quota, o-ok]
policy:
  retries: 1
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 5000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

async function chat(body: Record<string, unknown>) {
  return call(chatApp, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify(body),
    env: await testEnv({
      MAS_MODELS_YAML: MODELS_YAML,
      GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
      OPENAI_API_KEY: 'sk-fake-openai-000000000000000000000',
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
    }),
  });
}

const lastRequest = async (model: string) => {
  const list = (await (await fetch(`${gemini}/__requests/${model}`)).json()) as Array<{
    body: Record<string, unknown>;
  }>;
  return list[list.length - 1]!.body;
};

beforeEach(() => resetLocalCircuits());

describe('Gemini, translated both ways', () => {
  it('maps the request (system, roles, images, options, json) and answers in the OpenAI shape', async () => {
    const res = await chat({
      model: 'g-ok',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
        { role: 'assistant', content: 'A picture.' },
        { role: 'user', content: 'Say hello.' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 64,
      stop: ['END'],
      response_format: { type: 'json_object' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-provider')).toBe('google');
    const body = (await res.json()) as {
      object: string;
      choices: Array<{ message: { role: string; content: string }; finish_reason: string }>;
      usage: Record<string, number>;
    };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'Hello from Gemini.' },
      finish_reason: 'stop',
    });
    expect(body.usage).toEqual({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });

    const sent = await lastRequest('ok');
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
    expect(sent.contents).toEqual([
      {
        role: 'user',
        parts: [{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }],
      },
      { role: 'model', parts: [{ text: 'A picture.' }] },
      { role: 'user', parts: [{ text: 'Say hello.' }] },
    ]);
    expect(sent.generationConfig).toMatchObject({
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 64,
      stopSequences: ['END'],
      responseMimeType: 'application/json',
    });
  });

  it('round-trips tool calls and tool results with their ids', async () => {
    const res = await chat({
      model: 'g-tools',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_abc',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_abc', content: '{"temp_c":21}' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'required',
    });
    const body = (await res.json()) as {
      choices: Array<{
        message: { tool_calls: Array<{ id: string; function: { name: string; arguments: string } }> };
        finish_reason: string;
      }>;
    };
    expect(body.choices[0]!.finish_reason).toBe('tool_calls');
    expect(body.choices[0]!.message.tool_calls[0]).toEqual({
      id: 'fc_gemini_1',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
    const sent = await lastRequest('tools');
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
      {
        role: 'model',
        parts: [{ functionCall: { id: 'call_abc', name: 'get_weather', args: { city: 'Paris' } } }],
      },
      {
        role: 'user',
        parts: [{ functionResponse: { id: 'call_abc', name: 'get_weather', response: { temp_c: 21 } } }],
      },
    ]);
    expect(sent.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather',
            parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ],
      },
    ]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
  });

  it('streams Gemini as valid OpenAI chunks ending in [DONE]', async () => {
    const res = await chat({
      model: 'g-ok',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    });
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map(
      (e) =>
        JSON.parse(e.slice(6)) as {
          object: string;
          choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>;
          usage?: unknown;
        },
    );
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from Gemini.');
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks[chunks.length - 1]!.usage).toEqual({
      prompt_tokens: 11,
      completion_tokens: 4,
      total_tokens: 15,
    });
  });

  it('falls back from a failing OpenAI model to Gemini, and from Gemini to OpenAI', async () => {
    const toGemini = await chat({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] });
    expect(toGemini.status).toBe(200);
    expect(toGemini.headers.get('x-mas-model')).toBe('g-ok');
    expect(((await toGemini.json()) as { object: string }).object).toBe('chat.completion');
    const toOpenAI = await chat({ model: 'execution', messages: [{ role: 'user', content: 'hi' }] });
    expect(toOpenAI.headers.get('x-mas-model')).toBe('o-ok');
  });

  it('treats RESOURCE_EXHAUSTED as retryable, reading its RetryInfo delay', async () => {
    // The 1 s retryDelay is over this policy's 500 ms cap: better spent on the next model.
    const res = await chat({ model: 'quota', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('o-ok');
    expect(res.headers.get('x-mas-attempts')).toBe('2');
  });

  it('a safety block is a clear, non-retryable error', async () => {
    const res = await chat({ model: 'g-blocked', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('content_blocked');
    expect(body.error.message).toContain('SAFETY');
    expect(((await (await fetch(`${gemini}/__requests/blocked`)).json()) as unknown[]).length).toBe(1);
  });
});
