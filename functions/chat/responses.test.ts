import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { adminSql, bearer, bodyPieces, call, testEnv } from '../../test/workers/helpers.ts';
import { assertOpenAI, responseEvents } from '../../test/workers/openai-spec.ts';
import app from './index.ts';

const fake = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');
const anthropic = inject('anthropicFakeUrl');

const MODELS_YAML = `
providers:
  oai: { type: openai, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 2000 }
  compat: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
  claude: { type: anthropic, base_url: ${anthropic}, api_key_env: ANTHROPIC_API_KEY, timeout_ms: 2000 }
models:
  - { id: a-ok, provider: claude, upstream: ok, capabilities: [chat, tools], context_window: 200000 }
  - { id: a-tools, provider: claude, upstream: tools, capabilities: [chat, tools], context_window: 200000 }
  - { id: n-ok, provider: oai, upstream: ok, capabilities: [chat, tools], context_window: 8192 }
  - { id: n-tools, provider: oai, upstream: tools, capabilities: [chat, tools], context_window: 8192 }
  - { id: n-down, provider: oai, upstream: fail500, capabilities: [chat], context_window: 8192 }
  - { id: n-cut, provider: oai, upstream: midstream, capabilities: [chat], context_window: 8192 }
  - { id: c-ok, provider: compat, upstream: ok, capabilities: [chat, tools], context_window: 8192 }
  - { id: c-tools, provider: compat, upstream: tools, capabilities: [chat, tools], context_window: 8192 }
  - { id: c-cut, provider: compat, upstream: midstream, capabilities: [chat], context_window: 8192 }
  - { id: c-empty, provider: compat, upstream: empty, capabilities: [chat], context_window: 8192 }
  - { id: c-broken, provider: compat, upstream: bad-tool-calls, capabilities: [chat], context_window: 8192 }
  - { id: n-429, provider: oai, upstream: rate429, capabilities: [chat], context_window: 8192 }
  - { id: c-429, provider: compat, upstream: rate429, capabilities: [chat], context_window: 8192 }
  - { id: c-bad, provider: compat, upstream: bad400, capabilities: [chat], context_window: 8192 }
  - { id: g-ok, provider: google, upstream: ok, capabilities: [chat, tools], context_window: 8192 }
  - { id: g-tools, provider: google, upstream: tools, capabilities: [chat, tools], context_window: 8192 }
roles:
  planning: [n-down, c-ok]
  mixed: [c-ok, n-ok]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 5000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

const env = (over: Record<string, string | undefined> = {}) =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
    ANTHROPIC_API_KEY: 'sk-ant-fake-0000000000000000000000000',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
    ...over,
  });

// biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON bodies field by field
type Json = Record<string, any>;

async function create(body: Json, who: 'agent' | 'agent2' = 'agent', over = {}) {
  return call(app, '/v1/responses', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(who) },
    body: JSON.stringify(body),
    env: await env(over),
  });
}

async function created(body: Json, who: 'agent' | 'agent2' = 'agent'): Promise<Json> {
  const res = await create(body, who);
  const json = (await res.json()) as Json;
  expect(res.status, JSON.stringify(json)).toBe(200);
  assertOpenAI('Response', json);
  return json;
}

const get = async (path: string, who: 'agent' | 'agent2' = 'agent', method = 'GET') =>
  call(app, path, { method, headers: bearer(who), env: await env() });

const lastRequest = async (upstream: string) =>
  (
    (await (await fetch(`${fake}/__requests/${encodeURIComponent(upstream)}`)).json()) as Array<{
      body: Json;
    }>
  ).at(-1)!.body;

const outputText = (r: Json) =>
  (r.output as Json[])
    .filter((i) => i.type === 'message')
    .flatMap((i) => i.content as Json[])
    .map((p) => p.text)
    .join('');

beforeEach(() => resetLocalCircuits());

describe('POST /v1/responses, not streamed', () => {
  it.each([
    ['n-ok', 'native', 'oai'],
    ['c-ok', 'translated', 'compat'],
    ['g-ok', 'translated', 'google'],
    ['a-ok', 'translated', 'claude'],
  ])('%s (%s) answers a valid Response with usage, stored by default', async (model, _how, provider) => {
    const res = await create({ model, input: 'hi' });
    expect(res.headers.get('x-mas-provider')).toBe(provider);
    const r = (await res.json()) as Json;
    assertOpenAI('Response', r);
    expect(r).toMatchObject({ object: 'response', status: 'completed', store: true });
    expect(r.id).toMatch(/^resp_/);
    expect(outputText(r)).toMatch(/\w/);
    expect(r.usage.total_tokens).toBeGreaterThan(0);
    expect(r.usage.input_tokens + r.usage.output_tokens).toBe(r.usage.total_tokens);
  });

  it('native: forwarded to /responses with our history, store:false upstream (we keep it)', async () => {
    const r = await created({
      model: 'n-ok',
      input: 'hi',
      metadata: { ticket: 'T-1' },
      reasoning: { effort: 'low' },
    });
    expect(outputText(r)).toBe('Hello from the fake.');
    expect(r.metadata).toEqual({ ticket: 'T-1' });
    const sent = await lastRequest('ok');
    expect(sent).toMatchObject({ model: 'ok', store: false, reasoning: { effort: 'low' } });
    expect(sent.input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
    ]);
    expect(sent.previous_response_id).toBeUndefined();
  });

  it('translated: instructions, text.format, max_output_tokens, sampling and tools become chat fields', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    await created({
      model: 'c-ok',
      instructions: 'Be brief.',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'look' },
            { type: 'input_image', image_url: 'https://x.test/a.png' },
          ],
        },
      ],
      text: { format: { type: 'json_schema', name: 'city', schema, strict: true } },
      max_output_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      tools: [{ type: 'function', name: 'get_weather', parameters: schema }],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      reasoning: { effort: 'high' },
    });
    const sent = await lastRequest('ok');
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'look' },
          { type: 'image_url', image_url: { url: 'https://x.test/a.png' } },
        ],
      },
    ]);
    expect(sent).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
      max_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: schema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      reasoning_effort: 'high',
    });
  });

  it.each(['c-tools', 'g-tools', 'n-tools'])(
    '%s: a function call, then its output round trip by previous_response_id',
    async (model) => {
      const first = await created({
        model,
        input: 'weather in Paris?',
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } }],
      });
      const call = (first.output as Json[]).find((i) => i.type === 'function_call')!;
      expect(call).toMatchObject({ name: 'get_weather', status: 'completed' });
      expect(JSON.parse(call.arguments)).toMatchObject({ city: 'Paris' });
      const second = await created({
        model,
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"sky":"sunny"}' }],
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } }],
      });
      expect(second.previous_response_id).toBe(first.id);
      if (model === 'c-tools') {
        // The chat upstream saw the whole conversation: question, the call (same id), its output.
        const sent = await lastRequest('tools');
        expect(sent.messages).toEqual([
          { role: 'user', content: 'weather in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: call.call_id,
                type: 'function',
                function: { name: 'get_weather', arguments: call.arguments },
              },
            ],
          },
          { role: 'tool', tool_call_id: call.call_id, content: '{"sky":"sunny"}' },
        ]);
      }
      if (model === 'n-tools') {
        expect(outputText(second)).toBe('It is sunny in Paris.');
        const sent = await lastRequest('tools');
        expect((sent.input as Json[]).map((i) => i.type)).toEqual([
          'message',
          'function_call',
          'function_call_output',
        ]);
        expect((sent.input as Json[]).every((i) => i.id === undefined)).toBe(true);
      }
    },
  );

  it.each(['c-tools', 'n-tools'])(
    '%s: a stateless round trip (store:false, the call and its output sent back as input items)',
    async (model) => {
      const input = [
        { role: 'user', content: 'weather in Paris?' },
        {
          type: 'function_call',
          call_id: 'call_client_7',
          name: 'get_weather',
          arguments: '{"city":"Paris"}',
        },
        { type: 'function_call_output', call_id: 'call_client_7', output: '{"sky":"sunny"}' },
      ];
      const r = await created({
        model,
        store: false,
        input,
        tools: [{ type: 'function', name: 'get_weather' }],
      });
      expect(outputText(r)).toBe('It is sunny in Paris.');
      const sent = await lastRequest('tools');
      if (model === 'c-tools') {
        expect(sent.messages.slice(1)).toEqual([
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_client_7',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_client_7', content: '{"sky":"sunny"}' },
        ]);
      } else {
        expect((sent.input as Json[]).map((i) => [i.type, i.call_id])).toEqual([
          ['message', undefined],
          ['function_call', 'call_client_7'],
          ['function_call_output', 'call_client_7'],
        ]);
      }
    },
  );

  it('falls back across the chain (native down → translated) with routing headers', async () => {
    const res = await create({ model: 'planning', input: 'hi' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('c-ok');
    expect(res.headers.get('x-mas-attempts')).toBe('2');
  });

  it('a built-in tool goes to native models only; 400 unsupported_tool when none is left', async () => {
    const tools = [{ type: 'web_search' }];
    const res = await create({ model: 'mixed', input: 'news?', tools });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('n-ok');
    const refused = await create({ model: 'c-ok', input: 'news?', tools });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as Json;
    assertOpenAI('ErrorResponse', body);
    expect(body.error).toMatchObject({ code: 'unsupported_tool', param: 'tools[0]' });
  });

  it('400 for bad input, in the OpenAI error shape', async () => {
    for (const bad of [
      { model: 'c-ok' },
      { model: 'c-ok', input: 42 },
      { model: 'c-ok', input: 'x', max_output_tokens: 0 },
      { model: 'c-ok', input: 'x', text: { format: { type: 'yaml' } } },
      { model: 'c-ok', input: [{ content: 'no role or type' }] },
      {
        model: 'c-ok',
        input: 'x',
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
      },
    ]) {
      const res = await create(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      assertOpenAI('ErrorResponse', await res.json());
    }
  });
});

describe('POST /v1/responses, streamed', () => {
  const streamed = async (body: Json) => {
    const res = await create({ ...body, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = responseEvents(await res.text());
    for (const e of events) assertOpenAI('ResponseStreamEvent', e);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    return events;
  };
  const TEXT_SEQUENCE = [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ];
  const squash = (types: string[]) => types.filter((t, i) => t !== types[i - 1]);

  it.each(['n-ok', 'c-ok', 'g-ok', 'a-ok'])(
    '%s: OpenAI’s event sequence, deltas adding up to the text',
    async (model) => {
      const events = await streamed({ model, input: 'hi' });
      expect(squash(events.map((e) => e.type))).toEqual(TEXT_SEQUENCE);
      const deltas = events
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta)
        .join('');
      const done = events.find((e) => e.type === 'response.output_text.done')!;
      expect(deltas).toBe(done.text);
      const completed = events.at(-1)!.response as Json;
      expect(outputText(completed)).toBe(done.text);
      expect(completed.store).toBe(true);
      expect(completed.usage.total_tokens).toBeGreaterThan(0);
      // Stored as completed: GET returns the same response.
      const stored = (await (await get(`/v1/responses/${completed.id}`)).json()) as Json;
      expect(stored.id).toBe(completed.id);
      expect(outputText(stored)).toBe(done.text);
    },
  );

  it('c-ok (translated): what one upstream read brings goes out as one piece, whole events only', async () => {
    const pieces = await bodyPieces(await create({ model: 'c-ok', input: 'hi', stream: true }));
    for (const { text } of pieces) expect(text).toMatch(/^event: [^\n]+\ndata: [\s\S]*\n\n$/);
    // The opening events leave with the first read's, the closing ones together.
    expect(pieces[0]!.events.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(pieces.at(-1)!.events).toEqual(TEXT_SEQUENCE.slice(-4));
    const events = pieces.flatMap((p) => p.events);
    expect(squash(events)).toEqual(TEXT_SEQUENCE);
    expect(pieces.length).toBeLessThan(events.length);
  });

  it('c-empty (translated): an upstream stream with no chunk still opens at 0 and completes, empty', async () => {
    // `streamed` checks every event against the spec and the sequence numbers are 0..n.
    const events = await streamed({ model: 'c-empty', input: 'hi' });
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(outputText(events.at(-1)!.response as Json)).toBe('');
  });

  it('c-broken (translated): a chunk that cannot be read loses only itself, the events before it in its read go out, then response.failed', async () => {
    const events = await streamed({ model: 'c-broken', input: 'hi' });
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.failed',
    ]);
    expect(events[4]!.delta).toBe('Hel');
  });

  it.each(['n-tools', 'c-tools', 'g-tools'])(
    '%s: a function call streams as item, argument deltas, done',
    async (model) => {
      const events = await streamed({
        model,
        input: 'weather?',
        tools: [{ type: 'function', name: 'get_weather' }],
      });
      expect(squash(events.map((e) => e.type))).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        ...(model === 'g-tools' ? [] : ['response.function_call_arguments.delta']),
        ...(model === 'g-tools' ? ['response.function_call_arguments.delta'] : []),
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ]);
      const args = events
        .filter((e) => e.type === 'response.function_call_arguments.delta')
        .map((e) => e.delta)
        .join('');
      const item = events.find((e) => e.type === 'response.output_item.done')!.item as Json;
      expect(item).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: args });
      expect(JSON.parse(args)).toMatchObject({ city: 'Paris' });
    },
  );

  it('a-tools (Anthropic): text then a function call, every event and the final Response valid', async () => {
    const tools = [{ type: 'function', name: 'get_weather' }];
    const plain = await created({ model: 'a-tools', input: 'weather?', tools });
    expect((plain.output as Json[]).map((i) => i.type)).toEqual(['message', 'function_call']);
    const events = await streamed({ model: 'a-tools', input: 'weather?', tools });
    const completed = events.at(-1)!;
    expect(completed.type).toBe('response.completed');
    const call = ((completed.response as Json).output as Json[]).find((i) => i.type === 'function_call')!;
    expect(call).toMatchObject({ name: 'get_weather', call_id: 'toolu_fake_1' });
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });
  });

  it.each(['n-cut', 'c-cut'])(
    '%s: an upstream dying mid-stream ends with response.failed, stored as failed',
    async (model) => {
      const events = await streamed({ model, input: 'hi' });
      const last = events.at(-1)!;
      expect(last.type).toBe('response.failed');
      expect((last.response as Json).status).toBe('failed');
      expect((last.response as Json).error.code).toBe('server_error');
      expect(events.some((e) => e.type === 'response.completed')).toBe(false);
    },
  );
});

describe('stored responses', () => {
  it('GET, input_items (paged, both orders) and DELETE, for the principal that made it only', async () => {
    const r = await created({
      model: 'c-ok',
      input: [
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'two' },
        { role: 'user', content: 'three' },
      ],
    });
    const got = await get(`/v1/responses/${r.id}`);
    expect(got.status).toBe(200);
    const stored = (await got.json()) as Json;
    assertOpenAI('Response', stored);
    expect(stored.id).toBe(r.id);

    const page = (await (await get(`/v1/responses/${r.id}/input_items?limit=2`)).json()) as Json;
    assertOpenAI('ResponseItemList', page);
    expect(page.data.map((i: Json) => i.content[0].text)).toEqual(['three', 'two']);
    expect(page.has_more).toBe(true);
    const next = (await (
      await get(`/v1/responses/${r.id}/input_items?limit=2&after=${page.last_id}`)
    ).json()) as Json;
    expect(next.data.map((i: Json) => i.content[0].text)).toEqual(['one']);
    expect(next.has_more).toBe(false);
    const asc = (await (await get(`/v1/responses/${r.id}/input_items?order=asc`)).json()) as Json;
    expect(asc.data.map((i: Json) => i.content[0].text)).toEqual(['one', 'two', 'three']);

    // Another principal cannot read, list, continue or delete it: the same 404 as an unknown id.
    expect((await get(`/v1/responses/${r.id}`, 'agent2')).status).toBe(404);
    expect((await get(`/v1/responses/${r.id}/input_items`, 'agent2')).status).toBe(404);
    expect(
      (await create({ model: 'c-ok', input: 'more', previous_response_id: r.id }, 'agent2')).status,
    ).toBe(404);
    expect((await get(`/v1/responses/${r.id}`, 'agent2', 'DELETE')).status).toBe(404);

    const deleted = await get(`/v1/responses/${r.id}`, 'agent', 'DELETE');
    expect(await deleted.json()).toEqual({ id: r.id, object: 'response', deleted: true });
    expect((await get(`/v1/responses/${r.id}`)).status).toBe(404);
    expect((await get(`/v1/responses/${r.id}`, 'agent', 'DELETE')).status).toBe(404);
  });

  it('store:false is not kept; an expired response is gone', async () => {
    const r = await created({ model: 'c-ok', input: 'hi', store: false });
    expect(r.store).toBe(false);
    expect((await get(`/v1/responses/${r.id}`)).status).toBe(404);
    const kept = await created({ model: 'c-ok', input: 'hi' });
    // Time passing, as the table owner (the app's role may not update stored responses).
    await adminSql("update llm.responses set expires_at = now() - interval '1 second' where id = $1", [
      kept.id,
    ]);
    const gone = await get(`/v1/responses/${kept.id}`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as Json).error.code).toBe('response_not_found');
  });

  it('retention is 30 days by default', async () => {
    const { id } = await created({ model: 'c-ok', input: 'hi' });
    const [row] = await adminSql<{ days: string }>(
      'select extract(epoch from expires_at - created_at) / 86400 as days from llm.responses where id = $1',
      [id],
    );
    expect(Number(row!.days)).toBeCloseTo(30, 2);
  });

  it('retention follows RESPONSES_RETENTION_DAYS', async () => {
    const res = await create({ model: 'c-ok', input: 'hi' }, 'agent', { RESPONSES_RETENTION_DAYS: '2' });
    const { id } = (await res.json()) as Json;
    const [row] = await adminSql<{ days: string }>(
      'select extract(epoch from expires_at - created_at) / 86400 as days from llm.responses where id = $1',
      [id],
    );
    const days = Number(row!.days);
    expect(days).toBeCloseTo(2, 2);
  });

  it('previous_response_id chains three turns; each turn sees every earlier one', async () => {
    const one = await created({ model: 'c-ok', input: 'first' });
    const two = await created({ model: 'c-ok', input: 'second', previous_response_id: one.id });
    await created({
      model: 'c-ok',
      input: 'third',
      previous_response_id: two.id,
      instructions: 'Only this turn.',
    });
    const sent = await lastRequest('ok');
    expect(sent.messages.map((m: Json) => [m.role, m.content])).toEqual([
      ['system', 'Only this turn.'],
      ['user', 'first'],
      ['assistant', 'Hello from the fake.'],
      ['user', 'second'],
      ['assistant', 'Hello from the fake.'],
      ['user', 'third'],
    ]);
    expect((await create({ model: 'c-ok', input: 'x', previous_response_id: 'resp_nope' })).status).toBe(404);
  });
});

describe('responses: errors and accounting as for chat', () => {
  it.each(['n-429', 'c-429'])(
    '%s: an upstream 429 on the last model is a 429 rate_limit_exceeded with its Retry-After',
    async (model) => {
      const res = await create({ model, input: 'hi' });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('x-mas-model')).toBe(model);
      expect(res.headers.get('x-mas-attempts')).toBe('1');
      const body = (await res.json()) as Json;
      assertOpenAI('ErrorResponse', body);
      expect(body.error.code).toBe('rate_limit_exceeded');
    },
  );

  it('an upstream caller 400 keeps its status, type, code and param, and reaches the upstream once', async () => {
    const seen = async () => ((await (await fetch(`${fake}/__requests/bad400`)).json()) as unknown[]).length;
    const before = await seen();
    const res = await create({ model: 'c-bad', input: 'hi' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    assertOpenAI('ErrorResponse', body);
    expect(body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_value',
      param: 'temperature',
    });
    expect(await seen()).toBe(before + 1);
  });

  it.each([
    ['n-ok', 'oai', false],
    ['n-ok', 'oai', true],
    ['c-ok', 'compat', false],
    ['c-ok', 'compat', true],
  ] as const)(
    '%s via %s (stream: %s) counts requests and tokens under its provider and model',
    async (model, provider, stream) => {
      const { registry } = await import('../../shared/metrics/registry.ts');
      const tokens = async (type: string) =>
        Number(
          new RegExp(
            `llm_tokens_total\\{provider="${provider}",model="${model}",type="${type}"\\} (\\d+)`,
          ).exec(await registry.getSingleMetricAsString('llm_tokens_total'))?.[1] ?? 0,
        );
      const [prompt, completion] = [await tokens('prompt'), await tokens('completion')];
      const res = await create({ model, input: 'hi', stream });
      expect(res.status).toBe(200);
      await res.text();
      expect(await tokens('prompt')).toBe(prompt + 9);
      expect(await tokens('completion')).toBe(completion + 5);
      expect(await registry.getSingleMetricAsString('llm_requests_total')).toMatch(
        new RegExp(
          `llm_requests_total\\{provider="${provider}",model="${model}",role="[^"]*",status="ok"\\} [1-9]`,
        ),
      );
    },
  );
});
