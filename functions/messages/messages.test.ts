import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import Anthropic from '@anthropic-ai/sdk';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import type { Env } from '../../shared/env.ts';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bodyPieces, call, KEYS, testEnv } from '../../test/workers/helpers.ts';
import messagesApp from './index.ts';

const anthropicFake = inject('anthropicFakeUrl');
const openaiFake = inject('openaiFakeUrl');
const geminiFake = inject('geminiFakeUrl');

const MODELS_YAML = `
providers:
  claude: { type: anthropic, base_url: ${anthropicFake}, api_key_env: ANTHROPIC_API_KEY, timeout_ms: 1500 }
  oai: { type: openai, base_url: ${openaiFake}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${geminiFake}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
models:
  - { id: a-ok, provider: claude, upstream: ok, capabilities: [chat, tools, vision], context_window: 200000, price: { input: 3, output: 15 } }
  - { id: a-tools, provider: claude, upstream: tools, capabilities: [chat, tools], context_window: 200000 }
  - { id: a-over, provider: claude, upstream: overloaded, capabilities: [chat], context_window: 200000 }
  - { id: a-mid, provider: claude, upstream: midstream, capabilities: [chat], context_window: 200000 }
  - { id: a-bad, provider: claude, upstream: bad400, capabilities: [chat], context_window: 200000 }
  - { id: o-ok, provider: oai, upstream: ok, capabilities: [chat, tools, vision], context_window: 128000 }
  - { id: o-tools, provider: oai, upstream: tools, capabilities: [chat, tools], context_window: 128000 }
  - { id: o-down, provider: oai, upstream: fail500, capabilities: [chat], context_window: 128000 }
  - { id: o-cut, provider: oai, upstream: midstream, capabilities: [chat], context_window: 128000 }
  - { id: o-empty, provider: oai, upstream: empty, capabilities: [chat], context_window: 128000 }
  - { id: o-broken, provider: oai, upstream: bad-tool-calls, capabilities: [chat], context_window: 128000 }
  - { id: g-ok, provider: google, upstream: ok, capabilities: [chat], context_window: 1000000 }
roles:
  native-flaky: [a-over, a-ok]
  translated-flaky: [o-down, o-ok]
  to-gemini: [a-over, g-ok]
  to-openai: [a-over, o-ok]
  nothing: [a-over]
policy:
  retries: 1
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 3000
  deadline_ms: 6000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

const env = () =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    ANTHROPIC_API_KEY: 'sk-ant-upstream-000000000000000000000',
    OPENAI_API_KEY: 'sk-fake-openai-000000000000000000000',
    GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  });

/** The official Anthropic SDK, unchanged, with its HTTP going into the worker under test. */
function sdk(e: Env, apiKey: string = KEYS.agent) {
  return new Anthropic({
    apiKey,
    baseURL: 'http://mas.test',
    maxRetries: 0,
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const ctx = createExecutionContext();
      const res = await messagesApp.fetch(new Request(input, init), e, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    },
  });
}

type Recorded = { body: Record<string, unknown>; headers: Record<string, string> };
const lastSeen = async (fake: string, model: string) =>
  ((await (await fetch(`${fake}/__requests/${encodeURIComponent(model)}`)).json()) as Recorded[]).at(-1)!;

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

beforeEach(() => resetLocalCircuits());

/** Every case of issue #19, once natively to the Anthropic fake, once translated to the OpenAI fake. */
const SIDES = [
  {
    side: 'routed to the Anthropic fake (native)',
    text: 'a-ok',
    tools: 'a-tools',
    flaky: 'native-flaky',
    reply: 'Hello from the Anthropic fake.',
    toolId: 'toolu_fake_1',
    fake: anthropicFake,
  },
  {
    side: 'routed to the OpenAI fake (translated)',
    text: 'o-ok',
    tools: 'o-tools',
    flaky: 'translated-flaky',
    reply: 'Hello from the fake.',
    toolId: 'call_fake_1',
    fake: openaiFake,
  },
] as const;

describe.each(SIDES)('@anthropic-ai/sdk against /v1/messages, $side', (s) => {
  const native = s.fake === anthropicFake;

  it('create, with a system prompt', async () => {
    const message = await sdk(await env()).messages.create({
      model: s.text,
      max_tokens: 64,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    expect(message.id).toMatch(/^msg_/);
    expect(message.content).toEqual([{ type: 'text', text: s.reply }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    const seen = await lastSeen(s.fake, 'ok');
    if (native) {
      expect(seen.body).toMatchObject({ model: 'ok', max_tokens: 64, system: 'Be brief.', stream: false });
      expect(seen.headers['x-api-key']).toBe('sk-ant-upstream-000000000000000000000');
      // The SDK's own anthropic-version goes through (the chat path sends 2023-06-01).
      expect(seen.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    } else {
      expect(seen.body.messages).toEqual([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ]);
      expect(seen.body.max_tokens).toBe(64);
    }
  });

  it('stream of text: Anthropic’s event sequence', async () => {
    const stream = sdk(await env()).messages.stream({
      model: s.text,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    const final = await stream.finalMessage();
    expect(text).toBe(s.reply);
    expect(final.content).toEqual([{ type: 'text', text: s.reply }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types.at(-2)).toBe('message_delta');
    expect(types).toContain('content_block_start');
    expect(types).toContain('content_block_stop');
  });

  it('stream of tool use, arguments as input_json_delta', async () => {
    const stream = sdk(await env()).messages.stream({
      model: s.tools,
      max_tokens: 64,
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const partials: string[] = [];
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta')
        partials.push(event.delta.partial_json);
    }
    const final = await stream.finalMessage();
    expect(partials.length).toBeGreaterThanOrEqual(2);
    expect(partials.join('')).toBe('{"city":"Paris"}');
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.filter((b) => b.type === 'tool_use')).toEqual([
      { type: 'tool_use', id: s.toolId, name: 'get_weather', input: { city: 'Paris' } },
    ]);
    const seen = await lastSeen(s.fake, 'tools');
    if (native) expect(seen.body.tools).toEqual([weatherTool]);
    else
      expect(seen.body.tools).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: weatherTool.input_schema,
          },
        },
      ]);
  });

  it('a tool-result round trip keeps the tool id', async () => {
    const client = sdk(await env());
    const first = await client.messages.create({
      model: s.tools,
      max_tokens: 64,
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const use = first.content.find((b) => b.type === 'tool_use')!;
    expect(use).toMatchObject({ id: s.toolId, name: 'get_weather', input: { city: 'Paris' } });
    const second = await client.messages.create({
      model: s.text,
      max_tokens: 64,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C and sunny' }] },
      ],
    });
    expect(second.content[0]!.type).toBe('text');
    const seen = await lastSeen(s.fake, 'ok');
    if (native) {
      expect((second.content[0] as { text: string }).text).toBe('Tool said: 18C and sunny');
      expect((seen.body.messages as unknown[])[2]).toEqual({
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: s.toolId, content: '18C and sunny' }],
      });
    } else {
      expect((seen.body.messages as unknown[]).slice(1)).toEqual([
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: s.toolId,
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: s.toolId, content: '18C and sunny' },
      ]);
    }
  });

  it('images (base64 and URL)', async () => {
    const message = await sdk(await env()).messages.create({
      model: s.text,
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
            { type: 'text', text: 'What is this?' },
          ],
        },
      ],
    });
    expect(message.content[0]).toEqual({ type: 'text', text: s.reply });
    const seen = await lastSeen(s.fake, 'ok');
    const content = (seen.body.messages as Array<{ content: unknown }>).at(-1)!.content;
    if (native) {
      expect(content).toEqual([
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
        { type: 'text', text: 'What is this?' },
      ]);
    } else {
      expect(content).toEqual([
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
        { type: 'text', text: 'What is this?' },
      ]);
    }
  });

  it('errors: 401 for a bad key, 404 for an unknown model, a failing upstream retried then fallen back', async () => {
    const e = await env();
    const bad = await sdk(e, 'mas_not_a_real_key_000000000000')
      .messages.create({ model: s.text, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .catch((err: unknown) => err);
    expect(bad).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((bad as InstanceType<typeof Anthropic.APIError>).status).toBe(401);
    expect((bad as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });

    const unknown = await sdk(e)
      .messages.create({
        model: 'claude-9-ultra',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      error: { type: 'not_found_error' },
    });

    const { data, response } = await sdk(e)
      .messages.create({ model: s.flaky, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.content).toEqual([{ type: 'text', text: s.reply }]);
    expect(response.headers.get('x-mas-model')).toBe(s.text);
    expect(response.headers.get('x-mas-attempts')).toBe('3'); // 1 + 1 retry on the failing model, then the next
  });
});

describe('/v1/messages beyond the SDK cases', () => {
  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    return call(messagesApp, path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': KEYS.agent,
        'anthropic-version': '2023-06-01',
        ...headers,
      },
      body: JSON.stringify(body),
      env: await env(),
    });
  }

  it('a failing Anthropic model falls back to Gemini and to OpenAI, answering in the Messages shape', async () => {
    for (const [role, model] of [
      ['to-gemini', 'g-ok'],
      ['to-openai', 'o-ok'],
    ] as const) {
      const { data, response } = await sdk(await env())
        .messages.create({ model: role, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      expect(response.headers.get('x-mas-model')).toBe(model);
      expect(data).toMatchObject({ type: 'message', role: 'assistant', model, stop_reason: 'end_turn' });
      expect(data.content[0]!.type).toBe('text');
      expect((data.content[0] as { text: string }).text.length).toBeGreaterThan(0);

      const stream = sdk(await env()).messages.stream({
        model: role,
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      });
      const final = await stream.finalMessage();
      expect(final.content[0]!.type).toBe('text');
    }
  });

  it('Bearer works as well as x-api-key; anthropic-beta reaches Anthropic upstreams', async () => {
    const res = await post(
      '/v1/messages',
      { model: 'a-ok', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
      { 'x-api-key': '', authorization: `Bearer ${KEYS.agent}`, 'anthropic-beta': 'files-api-2025-04-14' },
    );
    expect(res.status).toBe(200);
    const seen = await lastSeen(anthropicFake, 'ok');
    expect(seen.headers['anthropic-beta']).toBe('files-api-2025-04-14');
    expect(seen.headers['x-api-key']).toBe('sk-ant-upstream-000000000000000000000');
  });

  it('prices a message as chat does: x-mas-cost-usd from the upstream usage', async () => {
    const res = await post('/v1/messages', {
      model: 'a-ok',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.status).toBe(200);
    // The fake reports 12 input and 6 output tokens: (12 x 3 + 6 x 15) / 1e6 USD.
    expect(res.headers.get('x-mas-cost-usd')).toBe('0.000126');
  });

  it('bad input: Anthropic’s error shape and status', async () => {
    const res = await post('/v1/messages', { model: 'a-ok', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      type: string;
      error: { type: string; message: string };
      request_id: string;
    };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('max_tokens');
    expect(res.headers.get('request-id')).toBe(body.request_id);
    const upstream400 = await post('/v1/messages', {
      model: 'a-bad',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(upstream400.status).toBe(400);
    expect(((await upstream400.json()) as { error: { message: string } }).error.message).toContain(
      'temperature',
    );
    const server = await post('/v1/messages', {
      model: 'a-ok',
      max_tokens: 8,
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(server.status).toBe(200); // native: server tools go to Anthropic as sent
    const translated = await post('/v1/messages', {
      model: 'o-ok',
      max_tokens: 8,
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(translated.status).toBe(400);
    expect(((await translated.json()) as { error: { message: string } }).error.message).toContain(
      'Server tool',
    );
    const nothing = await post('/v1/messages', {
      model: 'nothing',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(nothing.status).toBe(500);
    expect(((await nothing.json()) as { error: { type: string } }).error.type).toBe('api_error');
    const route = await post('/v1/messages/batches', {});
    expect(route.status).toBe(404);
    expect(((await route.json()) as { type: string; error: { type: string } }).error.type).toBe(
      'not_found_error',
    );
  });

  it('translated stream: what one upstream read brings goes out as one piece, whole events only', async () => {
    const res = await post('/v1/messages', {
      model: 'o-ok',
      max_tokens: 8,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const pieces = await bodyPieces(res);
    for (const { text } of pieces) expect(text).toMatch(/^event: [^\n]+\ndata: [\s\S]*\n\n$/);
    // The opening events leave with the first read's, the closing ones together.
    expect(pieces[0]!.events.slice(0, 2)).toEqual(['message_start', 'ping']);
    expect(pieces.at(-1)!.events).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(pieces.length).toBeLessThan(pieces.flatMap((p) => p.events).length);
  });

  it('translated stream with no upstream chunk: still a whole (empty) message, as the SDK reads it', async () => {
    const body = {
      model: 'o-empty',
      max_tokens: 8,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    };
    const text = await (await post('/v1/messages', body)).text();
    expect([...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual([
      'message_start',
      'ping',
      'message_delta',
      'message_stop',
    ]);
    const message = await sdk(await env())
      .messages.stream({ model: 'o-empty', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(message).toMatchObject({ role: 'assistant', content: [], stop_reason: 'end_turn' });
    expect(message.id).toMatch(/^msg_/);
  });

  it('translated stream: a chunk that cannot be read loses only itself, the events before it in its read go out, then the error event', async () => {
    const res = await post('/v1/messages', {
      model: 'o-broken',
      max_tokens: 8,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const text = await res.text();
    expect([...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'error',
    ]);
    expect(text).toContain('"text_delta","text":"Hel"');
    expect(text.endsWith('\n\n')).toBe(true);
  });

  it('mid-stream failures end with an Anthropic error event (native and translated)', async () => {
    for (const model of ['a-mid', 'o-cut']) {
      const res = await post('/v1/messages', {
        model,
        max_tokens: 8,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.startsWith('event: message_start\n')).toBe(true);
      expect(text).toMatch(
        /event: error\ndata: \{"type":"error","error":\{"type":"(overloaded_error|api_error)"/,
      );
      expect(text).not.toContain('message_stop');
    }
    const thrown = await sdk(await env())
      .messages.stream({ model: 'a-mid', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage()
      .catch((err: unknown) => err);
    expect(thrown).toBeInstanceOf(Anthropic.APIError);
  });

  it('count_tokens: Anthropic’s count for Anthropic models, an estimate elsewhere', async () => {
    const body = { messages: [{ role: 'user', content: 'Hello there, how are you today?' }] };
    const client = sdk(await env());
    const upstream = await client.messages.countTokens({ model: 'a-ok', ...body } as never).withResponse();
    expect(upstream.response.headers.get('x-mas-token-count')).toBe('upstream');
    expect(upstream.data.input_tokens).toBe(Math.ceil(JSON.stringify(body.messages).length / 4));
    const seen = await lastSeen(anthropicFake, 'ok');
    expect(seen.body).toEqual({ model: 'ok', ...body });
    const estimate = await client.messages.countTokens({ model: 'o-ok', ...body } as never).withResponse();
    expect(estimate.response.headers.get('x-mas-token-count')).toBe('estimate');
    // 31 characters / 4 → 8, plus 3 for the message.
    expect(estimate.data.input_tokens).toBe(11);
  });
});

describe('bad input to /v1/messages', () => {
  const good = { model: 'a-ok', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };
  const CASES: Array<{
    name: string;
    body: unknown;
    status: number;
    type: string;
    headers?: Record<string, string>;
  }> = [
    { name: 'malformed JSON', body: '{"model": [1, 2', status: 400, type: 'invalid_request_error' },
    { name: 'a bare string', body: '"just text"', status: 400, type: 'invalid_request_error' },
    { name: 'an array', body: '[1,2,3]', status: 400, type: 'invalid_request_error' },
    { name: 'an empty body', body: '', status: 400, type: 'invalid_request_error' },
    { name: 'missing fields', body: {}, status: 400, type: 'invalid_request_error' },
    {
      name: 'invalid UTF-8',
      body: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0xff, 0x7d]),
      status: 400,
      type: 'invalid_request_error',
    },
    {
      name: 'a body over the limit',
      body: { ...good, messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] },
      status: 413,
      type: 'request_too_large',
    },
    {
      name: 'text/plain',
      body: JSON.stringify(good),
      status: 400,
      type: 'invalid_request_error',
      headers: { 'content-type': 'text/plain' },
    },
    { name: 'no key', body: good, status: 401, type: 'authentication_error', headers: { 'x-api-key': '' } },
    {
      name: 'a wrong key',
      body: good,
      status: 401,
      type: 'authentication_error',
      headers: { 'x-api-key': 'mas_not_a_key_000000000000000' },
    },
    {
      name: 'an approver key',
      body: good,
      status: 403,
      type: 'permission_error',
      headers: { 'x-api-key': KEYS.approver },
    },
    {
      name: 'a system role in messages',
      body: { ...good, messages: [{ role: 'system', content: 'hi' }] },
      status: 400,
      type: 'invalid_request_error',
    },
    { name: 'no messages', body: { ...good, messages: [] }, status: 400, type: 'invalid_request_error' },
    { name: 'max_tokens 0', body: { ...good, max_tokens: 0 }, status: 400, type: 'invalid_request_error' },
    {
      name: 'temperature above 1',
      body: { ...good, temperature: 1.5 },
      status: 400,
      type: 'invalid_request_error',
    },
    { name: 'an unknown role', body: { ...good, model: 'role:nope' }, status: 404, type: 'not_found_error' },
  ];

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const correlationId = `bad-messages-${crypto.randomUUID()}`;
    const res = await call(messagesApp, '/v1/messages', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': KEYS.agent,
        'anthropic-version': '2023-06-01',
        'x-correlation-id': correlationId,
        ...c.headers,
      },
      body: typeof c.body === 'string' || c.body instanceof Uint8Array ? c.body : JSON.stringify(c.body),
      env: await env(),
    });
    const text = await res.text();
    expect(res.status, text).toBe(c.status);
    const body = JSON.parse(text) as {
      type: string;
      error: { type: string; message: string };
      request_id: string;
    };
    expect(Object.keys(body).sort()).toEqual(['error', 'request_id', 'type']);
    expect(body.type).toBe('error');
    expect(body.error.type).toBe(c.type);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(text).not.toMatch(/\n\s+at |\.ts:\d+|sk-ant-upstream/);
    const seen = (await (await fetch(`${anthropicFake}/__requests/ok`)).json()) as Recorded[];
    expect(seen.filter((r) => r.headers['x-correlation-id'] === correlationId)).toHaveLength(0);
  });
});
