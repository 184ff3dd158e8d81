import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toAnthropicRequest } from '../providers/anthropic/anthropic-chat-request.ts';
import { toOpenAIChunks, toOpenAICompletion } from '../providers/anthropic/anthropic-chat-response.ts';
import type { AnthropicEvent, AnthropicResponse } from '../providers/anthropic/anthropic-wire.ts';
import type { ChatChunk, ChatRequest } from '../providers/types.ts';
import { chatChunksToEvents, chatToMessage, type MessagesEvent } from './chat-to-messages.ts';
import { messagesToChat } from './messages-to-chat.ts';

// Text without newlines (the translations join pieces with blank lines) and never empty.
const text = fc
  .string({ minLength: 1, maxLength: 20, unit: 'grapheme' })
  .filter((t) => !t.includes('\n') && t.trim() === t && t.length > 0);
const id = fc.stringMatching(/^[A-Za-z0-9_]{4,16}$/);
const toolName = fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/);
const jsonValue = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
const args = fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), jsonValue, { maxKeys: 3 });
const usage = fc.record({
  input_tokens: fc.nat(100_000),
  output_tokens: fc.nat(10_000),
  cache_read_input_tokens: fc.nat(50_000),
  cache_creation_input_tokens: fc.nat(50_000),
});

/** A conversation in OpenAI shape: system, user turns, assistant turns that may call tools, their results. */
const conversation = fc
  .array(
    fc.oneof(
      fc.record({ kind: fc.constant('user' as const), text }),
      fc.record({
        kind: fc.constant('assistant' as const),
        text: fc.option(text, { nil: undefined }),
        calls: fc.array(fc.record({ id, name: toolName, args }), { maxLength: 2 }),
      }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((turns) => {
    const messages: Array<Record<string, unknown>> = [{ role: 'system', content: 'Be brief.' }];
    for (const turn of turns) {
      if (turn.kind === 'user') {
        messages.push({ role: 'user', content: turn.text });
        continue;
      }
      if (!turn.text && turn.calls.length === 0) continue;
      messages.push({
        role: 'assistant',
        content: turn.text ?? null,
        ...(turn.calls.length
          ? {
              tool_calls: turn.calls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: JSON.stringify(c.args) },
              })),
            }
          : {}),
      });
      for (const c of turn.calls)
        messages.push({ role: 'tool', tool_call_id: c.id, content: `result of ${c.id}` });
    }
    return messages;
  });

type Msg = {
  role: string;
  content?: unknown;
  tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
};
const textsOf = (messages: Msg[], role: string) =>
  messages
    .filter((m) => m.role === role && typeof m.content === 'string' && m.content)
    .map((m) => m.content as string);
const callsOf = (messages: Msg[]) =>
  messages
    .flatMap((m) => m.tool_calls ?? [])
    .map((c) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) }));
const resultsOf = (messages: Msg[]) =>
  messages.filter((m) => m.role === 'tool').map((m) => [m.tool_call_id, m.content]);

/** Each original text appears, in order, in the joined texts of the same role after the trip. */
function inOrder(original: string[], after: string[]): boolean {
  const joined = after.join('\u0000');
  let from = 0;
  for (const t of original) {
    const at = joined.indexOf(t, from);
    if (at < 0) return false;
    from = at + t.length;
  }
  return true;
}

describe('OpenAI → Anthropic → OpenAI (request)', () => {
  it('keeps system, text order, tool ids, arguments and results, and the options', () => {
    fc.assert(
      fc.property(
        conversation,
        fc.integer({ min: 1, max: 4096 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        (messages, maxTokens, temperature) => {
          const request = { messages, max_tokens: maxTokens, temperature, stop: ['END'] } as ChatRequest;
          const anthropic = toAnthropicRequest(request, 'claude');
          // Alternating turns, as Anthropic requires.
          anthropic.messages.forEach((m, i) => {
            if (i > 0) expect(m.role).not.toBe(anthropic.messages[i - 1]!.role);
          });
          const back = messagesToChat(anthropic).messages as Msg[];
          const original = messages as Msg[];
          expect(back[0]).toEqual({ role: 'system', content: 'Be brief.' });
          expect(inOrder(textsOf(original, 'user'), textsOf(back, 'user'))).toBe(true);
          expect(inOrder(textsOf(original, 'assistant'), textsOf(back, 'assistant'))).toBe(true);
          expect(callsOf(back)).toEqual(callsOf(original));
          expect(resultsOf(back)).toEqual(resultsOf(original));
          const again = messagesToChat(anthropic);
          expect(again.max_tokens).toBe(maxTokens);
          expect(again.temperature).toBe(Math.min(1, temperature));
          expect(again.stop).toEqual(['END']);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** An Anthropic message: text and tool_use blocks, a stop reason that maps back, usage. */
const anthropicMessage = fc
  .record({
    texts: fc.array(text, { maxLength: 3 }),
    tools: fc.uniqueArray(fc.record({ id, name: toolName, input: args }), {
      maxLength: 2,
      selector: (t) => t.id,
    }),
    stop: fc.constantFrom('end_turn', 'max_tokens', 'refusal'),
    usage,
  })
  .filter((m) => m.texts.length + m.tools.length > 0)
  .map(
    (m): AnthropicResponse => ({
      id: 'msg_prop',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [
        ...m.texts.map((t) => ({ type: 'text', text: t })),
        ...m.tools.map((t) => ({ type: 'tool_use', id: t.id, name: t.name, input: t.input })),
      ],
      stop_reason: m.tools.length ? 'tool_use' : m.stop,
      stop_sequence: null,
      usage: m.usage,
    }),
  );

const joinedText = (content: Array<Record<string, unknown>>) =>
  content
    .filter((b) => b.type === 'text')
    .map((b) => b.text)
    .join('');
const toolUses = (content: Array<Record<string, unknown>>) =>
  content.filter((b) => b.type === 'tool_use').map((b) => ({ id: b.id, name: b.name, input: b.input }));

describe('Anthropic → OpenAI → Anthropic (response)', () => {
  it('keeps text, tool ids and inputs, the stop reason and usage', () => {
    fc.assert(
      fc.property(anthropicMessage, (message) => {
        const back = chatToMessage(toOpenAICompletion(message), 'claude');
        expect(joinedText(back.content)).toBe(joinedText(message.content));
        expect(toolUses(back.content)).toEqual(toolUses(message.content));
        expect(back.stop_reason).toBe(message.stop_reason);
        expect(back.usage).toEqual(message.usage);
      }),
      { numRuns: 200 },
    );
  });

  it('streamed: Anthropic events → chunks → Anthropic events accumulate to the same message', async () => {
    await fc.assert(
      fc.asyncProperty(anthropicMessage, fc.integer({ min: 1, max: 5 }), async (message, pieces) => {
        const chunks = toOpenAIChunks('anthropic', fromArray(anthropicEvents(message, pieces)));
        const events: MessagesEvent[] = [];
        for await (const batch of chatChunksToEvents(chunks as AsyncIterable<ChatChunk>, 'claude'))
          events.push(...batch);
        const rebuilt = accumulate(events);
        expect(events[0]!.type).toBe('message_start');
        expect(events.at(-1)!.type).toBe('message_stop');
        expect(joinedText(rebuilt.content)).toBe(joinedText(message.content));
        expect(toolUses(rebuilt.content)).toEqual(toolUses(message.content));
        expect(rebuilt.stop_reason).toBe(message.stop_reason);
        expect(rebuilt.usage).toEqual(message.usage);
      }),
      { numRuns: 100 },
    );
  });
});

/** The message as Anthropic would stream it, each text and JSON input cut into `pieces`. */
function anthropicEvents(message: AnthropicResponse, pieces: number): AnthropicEvent[] {
  const cut = (s: string) => {
    const size = Math.max(1, Math.ceil(s.length / pieces));
    const out: string[] = [];
    for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
    return out;
  };
  const { output_tokens, ...input } = message.usage;
  const events: AnthropicEvent[] = [
    {
      type: 'message_start',
      message: { id: message.id, model: message.model, usage: { ...input, output_tokens: 1 } },
    },
    { type: 'ping' },
  ];
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const t of cut(String(block.text)))
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
    } else {
      events.push({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
      for (const p of cut(JSON.stringify(block.input)))
        events.push({
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: p },
        });
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason },
    usage: { output_tokens },
  });
  events.push({ type: 'message_stop' });
  return events;
}

/** What Anthropic's SDK does with a stream: rebuild the message from its events. */
function accumulate(events: MessagesEvent[]) {
  const content: Array<Record<string, unknown>> = [];
  const json = new Map<number, string>();
  let stop_reason: unknown = null;
  let usage: Record<string, unknown> = {};
  for (const e of events) {
    if (e.type === 'content_block_start') content[e.index as number] = { ...(e.content_block as object) };
    if (e.type === 'content_block_delta') {
      const d = e.delta as { type: string; text?: string; partial_json?: string };
      const block = content[e.index as number]!;
      if (d.type === 'text_delta') block.text = `${block.text}${d.text}`;
      if (d.type === 'input_json_delta')
        json.set(e.index as number, (json.get(e.index as number) ?? '') + d.partial_json);
    }
    if (e.type === 'message_delta') {
      stop_reason = (e.delta as { stop_reason: unknown }).stop_reason;
      usage = e.usage as Record<string, unknown>;
    }
  }
  for (const [index, text] of json) content[index]!.input = JSON.parse(text);
  return { content, stop_reason, usage };
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}
