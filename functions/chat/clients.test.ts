import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { embed, embedMany, generateText, jsonSchema, Output, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Env } from '../../shared/env.ts';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { KEYS, testEnv } from '../../test/workers/helpers.ts';
import app from '../index.ts';

// The official clients, unchanged and with their defaults, pointed at our /v1 (workerd, real
// Postgres and Redis, the protocol fakes upstream): the judges of compatibility.

const fake = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');

const MODELS_YAML = `
providers:
  oai: { type: openai, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 3000 }
  compat: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 3000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 3000 }
models:
  - { id: gpt-fake, provider: oai, upstream: ok, capabilities: [chat, tools, json], context_window: 128000 }
  - { id: gpt-fake-tools, provider: oai, upstream: tools, capabilities: [chat, tools], context_window: 128000 }
  - { id: compat-chat, provider: compat, upstream: ok, capabilities: [chat, tools, json], context_window: 32000 }
  - { id: compat-tools, provider: compat, upstream: tools, capabilities: [chat, tools], context_window: 32000 }
  - { id: gemini-chat, provider: google, upstream: ok, capabilities: [chat, tools], context_window: 1000000 }
  - { id: text-embedding-fake, provider: oai, upstream: embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
  - { id: compat-embedding, provider: compat, upstream: embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
roles:
  planning: [gpt-fake]
  embedding: [text-embedding-fake]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 8000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

let env: Env;
beforeAll(async () => {
  env = await testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
    UPSTASH_REDIS_REST_URL: undefined,
    UPSTASH_REDIS_REST_TOKEN: undefined,
  });
});
beforeEach(() => resetLocalCircuits());

const baseURL = 'http://mas.test/v1';
const apiKey = KEYS.agent;

/** Every client's fetch, answered by the combined app inside workerd. */
const gatewayFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(input, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
};

const lastRequest = async (upstream: string) =>
  (
    (await (await fetch(`${fake}/__requests/${upstream}`)).json()) as Array<{ body: Record<string, unknown> }>
  ).at(-1)!.body;

const weatherParams = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
} as const;

describe('openai (openai-node)', () => {
  const client = () => new OpenAI({ apiKey, baseURL, maxRetries: 0, fetch: gatewayFetch });

  it('chat: plain, streamed, tools, structured output; request_id is our correlation id', async () => {
    const { data, response, request_id } = await client()
      .chat.completions.create({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from the fake.');
    expect(request_id).toBe(response.headers.get('x-correlation-id'));

    const stream = await client().chat.completions.create({
      model: 'compat-chat',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello from the fake.');

    const tools = await client().chat.completions.create({
      model: 'compat-tools',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weatherParams } }],
    });
    expect(tools.choices[0]!.message.tool_calls?.[0]).toMatchObject({ id: 'call_fake_1', type: 'function' });

    const parsed = await client().chat.completions.parse({
      model: 'compat-chat',
      messages: [{ role: 'user', content: 'weather as JSON' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'weather',
          strict: true,
          schema: {
            ...weatherParams,
            properties: { city: { type: 'string' }, sky: { type: 'string' } },
            required: ['city', 'sky'],
          },
        },
      },
    });
    expect(parsed.choices[0]!.message.parsed).toEqual({ city: 'Paris', sky: 'sunny' });
  });

  it('embeddings: the default (base64), float, dimensions, token ids', async () => {
    const byDefault = await client().embeddings.create({ model: 'text-embedding-fake', input: 'alpha' });
    const float = await client().embeddings.create({
      model: 'text-embedding-fake',
      input: 'alpha',
      encoding_format: 'float',
    });
    // The SDK asked for base64 and decoded it: the same float32 values as the float answer.
    expect(byDefault.data[0]!.embedding).toEqual(Array.from(new Float32Array(float.data[0]!.embedding)));
    expect(byDefault.data[0]!.embedding).toHaveLength(8);
    const small = await client().embeddings.create({ model: 'embedding', input: ['a', 'b'], dimensions: 4 });
    expect(small.data.map((d) => d.embedding.length)).toEqual([4, 4]);
    const tokens = await client().embeddings.create({
      model: 'compat-embedding',
      input: [
        [1, 2, 3],
        [4, 5],
      ],
    });
    expect(tokens.data).toHaveLength(2);
    expect((await lastRequest('embed-8')).input).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it.each(['gpt-fake', 'compat-chat', 'gemini-chat'])(
    'responses.create on %s: plain and streamed',
    async (model) => {
      const plain = await client().responses.create({ model, input: 'hi' });
      expect(plain.output_text).toMatch(/^Hello from/);
      expect(plain.status).toBe('completed');
      const stream = client().responses.stream({ model, input: 'hi' });
      let deltas = '';
      for await (const event of stream)
        if (event.type === 'response.output_text.delta') deltas += event.delta;
      const final = await stream.finalResponse();
      expect(final.output_text).toBe(deltas);
      expect(deltas).toMatch(/^Hello from/);
    },
  );

  it.each(['gpt-fake-tools', 'compat-tools'])(
    'responses on %s: tools, a tool-output round trip by previous_response_id, retrieve, input_items, delete',
    async (model) => {
      const tools = [
        { type: 'function' as const, name: 'get_weather', parameters: weatherParams, strict: true },
      ];
      const first = await client().responses.create({ model, input: 'weather in Paris?', tools });
      const call = first.output.find((i) => i.type === 'function_call');
      expect(call).toMatchObject({ name: 'get_weather' });
      if (call?.type !== 'function_call') throw new Error('no function call');
      expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });
      const second = await client().responses.create({
        model,
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"sky":"sunny"}' }],
        tools,
      });
      expect(second.previous_response_id).toBe(first.id);
      expect(second.output_text.length).toBeGreaterThan(0);
      expect((await client().responses.retrieve(second.id)).id).toBe(second.id);
      const items = await client().responses.inputItems.list(second.id);
      expect(items.data.map((i) => i.type)).toEqual(['function_call_output']);
      await client().responses.delete(second.id);
      await expect(client().responses.retrieve(second.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    },
  );

  it('legacy completions and models.retrieve / list', async () => {
    const completion = await client().completions.create({
      model: 'compat-chat',
      prompt: 'Say hi',
      max_tokens: 5,
    });
    expect(completion.choices[0]!.text).toBe('Hello from the fake.');
    const model = await client().models.retrieve('role:planning');
    expect(model).toMatchObject({ id: 'role:planning', object: 'model', owned_by: 'mas-role' });
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-fake', 'planning', 'role:planning', 'embedding']));
    await expect(client().models.retrieve('gpt-9')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('LangChain (@langchain/openai)', () => {
  const configuration = { baseURL, fetch: gatewayFetch };

  it.each([false, true])(
    'ChatOpenAI (useResponsesApi: %s): invoke, stream, tools',
    async (useResponsesApi) => {
      const llm = new ChatOpenAI({
        model: 'compat-chat',
        apiKey,
        configuration,
        maxRetries: 0,
        useResponsesApi,
      });
      const answer = await llm.invoke('hi');
      expect(answer.text).toBe('Hello from the fake.');
      let streamed = '';
      for await (const chunk of await llm.stream('hi')) streamed += chunk.text;
      expect(streamed).toBe('Hello from the fake.');
      const withTools = new ChatOpenAI({
        model: 'compat-tools',
        apiKey,
        configuration,
        maxRetries: 0,
        useResponsesApi,
      }).bindTools([
        {
          type: 'function',
          function: { name: 'get_weather', description: 'weather', parameters: weatherParams },
        },
      ]);
      const called = await withTools.invoke('weather in Paris?');
      expect(called.tool_calls?.[0]).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
    },
  );

  it('OpenAIEmbeddings with its defaults (base64 on the wire)', async () => {
    const embeddings = new OpenAIEmbeddings({
      model: 'text-embedding-fake',
      apiKey,
      configuration,
      maxRetries: 0,
    });
    const [one, two] = await embeddings.embedDocuments(['alpha', 'beta']);
    expect(one).toHaveLength(8);
    expect(one).not.toEqual(two);
    expect(await embeddings.embedQuery('alpha')).toEqual(one);
  });
});

describe('Vercel AI SDK', () => {
  const openai = createOpenAI({ apiKey, baseURL, fetch: gatewayFetch });

  it.each(['gpt-fake', 'gemini-chat'])(
    'the default openai(id) (Responses API) on %s: generate and stream',
    async (id) => {
      const { text, usage } = await generateText({ model: openai(id), prompt: 'hi' });
      expect(text).toMatch(/^Hello from/);
      expect(usage.inputTokens).toBeGreaterThan(0);
      const result = streamText({ model: openai(id), prompt: 'hi' });
      let streamed = '';
      for await (const part of result.textStream) streamed += part;
      expect(streamed).toBe(text);
    },
  );

  it('openai(id) with a tool and structured output', async () => {
    const { toolCalls } = await generateText({
      model: openai('gpt-fake-tools'),
      prompt: 'weather in Paris?',
      tools: { get_weather: tool({ description: 'weather', inputSchema: jsonSchema(weatherParams) }) },
    });
    expect(toolCalls[0]).toMatchObject({ toolName: 'get_weather', input: { city: 'Paris' } });
    const { output } = await generateText({
      model: openai('compat-chat'),
      prompt: 'weather as JSON',
      output: Output.object({
        schema: jsonSchema<{ city: string; sky: string }>({
          type: 'object',
          properties: { city: { type: 'string' }, sky: { type: 'string' } },
          required: ['city', 'sky'],
          additionalProperties: false,
        }),
      }),
    });
    expect(output).toEqual({ city: 'Paris', sky: 'sunny' });
  });

  it('openai.chat(id): generate, stream, embeddings', async () => {
    const { text } = await generateText({ model: openai.chat('compat-chat'), prompt: 'hi' });
    expect(text).toBe('Hello from the fake.');
    let streamed = '';
    for await (const part of streamText({ model: openai.chat('gpt-fake'), prompt: 'hi' }).textStream)
      streamed += part;
    expect(streamed).toBe('Hello from the fake.');
    const { embedding } = await embed({ model: openai.embedding('text-embedding-fake'), value: 'alpha' });
    expect(embedding).toHaveLength(8);
  });

  it('createOpenAICompatible: chat, stream, tools, embeddings', async () => {
    const mas = createOpenAICompatible({
      name: 'mas',
      apiKey,
      baseURL,
      fetch: gatewayFetch,
      includeUsage: true,
    });
    const { text, usage } = await generateText({ model: mas('planning'), prompt: 'hi' });
    expect(text).toBe('Hello from the fake.');
    expect(usage.totalTokens).toBe(14);
    let streamed = '';
    for await (const part of streamText({ model: mas('gemini-chat'), prompt: 'hi' }).textStream)
      streamed += part;
    expect(streamed).toBe('Hello from Gemini.');
    const { toolCalls } = await generateText({
      model: mas('compat-tools'),
      prompt: 'weather?',
      tools: { get_weather: tool({ description: 'weather', inputSchema: jsonSchema(weatherParams) }) },
    });
    expect(toolCalls[0]).toMatchObject({ toolName: 'get_weather', toolCallId: 'call_fake_1' });
    const { embeddings } = await embedMany({
      model: mas.embeddingModel('compat-embedding'),
      values: ['a', 'b'],
    });
    expect(embeddings.map((e) => e.length)).toEqual([8, 8]);
  });
});
