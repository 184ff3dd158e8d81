import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_REPLY, startDemoUpstream } from './llm-upstream.ts';
import { DEMO_MCP_TOOLS, startDemoMcpServer } from './mcp-server.ts';
import { needsDemoUpstream } from './needs-demo.ts';

describe('needsDemoUpstream', () => {
  it('only without any provider key or LLM_BASE_URL', () => {
    expect(needsDemoUpstream({})).toBe(true);
    expect(needsDemoUpstream({ ANTHROPIC_API_KEY: 'sk-ant-x' })).toBe(false);
    expect(needsDemoUpstream({ OPENAI_API_KEY: 'sk-x' })).toBe(false);
    expect(needsDemoUpstream({ GOOGLE_API_KEY: 'AIza' })).toBe(false);
    expect(needsDemoUpstream({ LLM_BASE_URL: 'http://127.0.0.1:4000/v1' })).toBe(false);
    expect(needsDemoUpstream({ ANTHROPIC_API_KEY: '' })).toBe(true);
  });
});

// The official openai client is the judge of the demo upstream's wire format.
describe('the demo LLM upstream', () => {
  let demo: Awaited<ReturnType<typeof startDemoUpstream>>;
  let client: OpenAI;
  beforeAll(async () => {
    demo = await startDemoUpstream();
    client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: 'demo', maxRetries: 0 });
  });
  afterAll(() => demo.close());

  it('answers chat plainly and streamed, the usage chunk only when asked for', async () => {
    const plain = await client.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(plain.choices[0]?.message.content).toBe(DEMO_REPLY);
    expect(plain.usage?.total_tokens).toBeGreaterThan(0);
    for (const includeUsage of [true, false]) {
      const stream = await client.chat.completions.create({
        model: 'demo',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
      let text = '';
      let usageChunks = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usageChunks++;
      }
      expect(text).toBe(DEMO_REPLY);
      expect(usageChunks).toBe(includeUsage ? 1 : 0);
    }
  });

  it('calls the first tool until a tool result comes back, then answers in text', async () => {
    const tools = [
      { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object' } } },
    ];
    const first = await client.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'look it up' }],
      tools,
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function.name).toBe('lookup');
    const second = await client.chat.completions.create({
      model: 'demo',
      messages: [
        { role: 'user', content: 'look it up' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call!.id, content: 'found' },
      ],
      tools,
    });
    expect(second.choices[0]?.message.content).toBe(DEMO_REPLY);
  });

  it('embeds by default (base64, decoded by the client) exactly as with floats, with dimensions', async () => {
    const byDefault = await client.embeddings.create({ model: 'demo-embed-768', input: ['one', 'two'] });
    const floats = await client.embeddings.create({
      model: 'demo-embed-768',
      input: ['one', 'two'],
      encoding_format: 'float',
    });
    expect(byDefault.data).toHaveLength(2);
    expect(byDefault.data[0]?.embedding).toHaveLength(768);
    expect(byDefault.data[0]?.embedding).toEqual(floats.data[0]?.embedding.map((x) => Math.fround(x)));
    expect(byDefault.data[0]?.embedding).not.toEqual(byDefault.data[1]?.embedding);
    const small = await client.embeddings.create({ model: 'demo-embed-768', input: 'x', dimensions: 4 });
    expect(small.data[0]?.embedding).toHaveLength(4);
  });

  it('answers legacy completions, one choice per prompt', async () => {
    const done = await client.completions.create({ model: 'demo', prompt: ['a', 'b'] });
    expect(done.choices.map((c) => c.text)).toEqual([DEMO_REPLY, DEMO_REPLY]);
  });

  it('refuses a body over its limit with 413 and a malformed one with 400, in OpenAI error shape', async () => {
    const big = await fetch(`${demo.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({
        model: 'demo',
        messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }],
      }),
    });
    expect(big.status).toBe(413);
    const bad = await fetch(`${demo.url}/v1/chat/completions`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });
});

describe('the demo MCP server', () => {
  it('lists its three tools and runs them, to the official MCP client', async () => {
    const server = await startDemoMcpServer();
    const client = new Client({ name: 'demo-test', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(Object.keys(DEMO_MCP_TOOLS).sort());
      const read = await client.callTool({ name: 'read_file', arguments: { path: '/notes.txt' } });
      expect(JSON.stringify(read.content)).toContain('/notes.txt');
      const bad = await client.callTool({ name: 'transfer_funds', arguments: { to: 'x', amount: -1 } });
      expect(bad.isError).toBe(true);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
