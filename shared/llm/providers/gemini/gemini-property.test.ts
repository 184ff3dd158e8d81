import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toGeminiRequest } from './gemini-chat-request.ts';
import { toOpenAIChunks, toOpenAICompletion } from './gemini-chat-response.ts';
import type { Content, GenerateContentResponse, Part } from './gemini-wire.ts';

// Round trips of the OpenAI ↔ Gemini translation over generated conversations: every text, role,
// tool call (id, name, arguments) and tool result survives, in order.

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}
type Message =
  | { role: 'system' | 'developer' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const toolName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,20}$/);
const args = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
  fc.jsonValue({ maxDepth: 2, stringUnit: 'grapheme' }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
  { maxKeys: 4 },
);
const toolResult = fc.oneof(
  text,
  args.map((a) => JSON.stringify(a)),
);

/** One turn: a message, or an assistant's tool calls followed by one result per call. */
const turn = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer', 'user' as const), content: text }),
  fc.record({ role: fc.constant('assistant' as const), content: text }),
  fc.record({
    content: fc.option(text, { nil: null }),
    calls: fc.array(fc.record({ name: toolName, args, result: toolResult }), { minLength: 1, maxLength: 3 }),
  }),
);

/** Conversations with unique tool call ids, each call answered by a `tool` message. */
const conversation = fc.array(turn, { minLength: 1, maxLength: 8 }).map((turns) => {
  let n = 0;
  const messages: Message[] = [];
  for (const t of turns) {
    if ('role' in t) {
      messages.push(t as Message);
      continue;
    }
    const calls = t.calls.map((c) => ({ ...c, id: `call_${n++}_${c.name}` }));
    messages.push({
      role: 'assistant',
      content: t.content,
      tool_calls: calls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: JSON.stringify(c.args) },
      })),
    });
    for (const c of calls) messages.push({ role: 'tool', tool_call_id: c.id, content: c.result });
  }
  return messages;
});

/** What a message should become as Gemini parts, in order. */
function expectedParts(message: Message, names: Map<string, string>): Part[] {
  if (message.role === 'tool') {
    let response: Record<string, unknown>;
    try {
      const parsed = JSON.parse(message.content) as unknown;
      response =
        parsed && typeof parsed === 'object' && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : { result: parsed };
    } catch {
      response = { result: message.content };
    }
    return [
      { functionResponse: { id: message.tool_call_id, name: names.get(message.tool_call_id)!, response } },
    ];
  }
  const parts: Part[] = message.content ? [{ text: message.content }] : [];
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) {
      names.set(call.id, call.function.name);
      parts.push({
        functionCall: { id: call.id, name: call.function.name, args: JSON.parse(call.function.arguments) },
      });
    }
  }
  return parts;
}

describe('OpenAI → Gemini request translation', () => {
  it('keeps every text, role, tool call and tool result, in order, in alternating turns', () => {
    fc.assert(
      fc.property(conversation, (messages) => {
        const { contents, config } = toGeminiRequest({ messages });
        const system = messages.filter((m) => m.role === 'system' || m.role === 'developer');
        if (system.length)
          expect(config.systemInstruction).toEqual({
            parts: [{ text: system.map((m) => m.content).join('\n\n') }],
          });
        else expect(config.systemInstruction).toBeUndefined();

        const names = new Map<string, string>();
        const expected: Array<{ role: string; part: Part }> = [];
        for (const m of messages) {
          if (m.role === 'system' || m.role === 'developer') continue;
          const role = m.role === 'assistant' ? 'model' : 'user';
          for (const part of expectedParts(m, names)) expected.push({ role, part });
        }
        const actual = contents.flatMap((c) => (c.parts ?? []).map((part) => ({ role: c.role, part })));
        expect(actual).toEqual(expected);
        // Gemini wants alternating turns: never two contents of one role in a row.
        for (let i = 1; i < contents.length; i++) expect(contents[i]!.role).not.toBe(contents[i - 1]!.role);
      }),
      { numRuns: 500 },
    );
  });
});

describe('OpenAI → Gemini → OpenAI round trip', () => {
  it('an assistant turn sent to Gemini and answered back is the same message', () => {
    const assistant = fc.record({
      content: fc.option(text, { nil: null }),
      calls: fc.array(fc.record({ name: toolName, args }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(assistant, fc.boolean(), ({ content, calls }, withIds) => {
        fc.pre(content !== null || calls.length > 0);
        const tool_calls = calls.map((c, i) => ({
          id: `call_${i}_${c.name}`,
          type: 'function' as const,
          function: { name: c.name, arguments: JSON.stringify(c.args) },
        }));
        const sent: Message = { role: 'assistant', content, ...(calls.length ? { tool_calls } : {}) };
        const { contents } = toGeminiRequest({ messages: [{ role: 'user', content: 'go' }, sent] });
        const modelTurn = contents.find((c: Content) => c.role === 'model')!;
        // Older Gemini models send no ids: the stable fallback id must come back instead.
        const parts = (modelTurn.parts ?? []).map((p) =>
          !withIds && p.functionCall ? { functionCall: { ...p.functionCall, id: undefined } } : p,
        );
        const response = {
          responseId: 'r1',
          candidates: [{ index: 0, content: { role: 'model', parts }, finishReason: 'STOP' }],
        } as unknown as GenerateContentResponse;
        const completion = toOpenAICompletion('gemini', 'gemini-x', response) as {
          choices: Array<{
            finish_reason: string;
            message: { role: string; content: string | null; tool_calls?: ToolCall[] };
          }>;
        };
        const message = completion.choices[0]!.message;
        expect(message.role).toBe('assistant');
        expect(message.content).toBe(content ?? (calls.length ? null : ''));
        expect(completion.choices[0]!.finish_reason).toBe(calls.length ? 'tool_calls' : 'stop');
        const back = message.tool_calls ?? [];
        expect(back.map((t) => t.function.name)).toEqual(calls.map((c) => c.name));
        expect(back.map((t) => JSON.parse(t.function.arguments))).toEqual(calls.map((c) => c.args));
        expect(back.map((t) => t.id)).toEqual(
          withIds ? tool_calls.map((t) => t.id) : calls.map((c, i) => `call_${i}_${c.name}`),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('a streamed answer, however Gemini splits it, adds up to the same text and tool calls', async () => {
    const piece = fc.oneof(
      text.map((t) => ({ text: t })),
      fc.record({ name: toolName, args }).map((c) => ({ call: c })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(piece, { maxLength: 3 }), { minLength: 1, maxLength: 6 }),
        async (chunks) => {
          let n = 0;
          const withIds = chunks.map((parts) =>
            parts.map((p) => ('call' in p ? { call: { ...p.call, id: `fc_${n++}` } } : p)),
          );
          async function* stream(): AsyncIterable<GenerateContentResponse> {
            for (const [i, parts] of withIds.entries()) {
              yield {
                candidates: [
                  {
                    content: {
                      role: 'model',
                      parts: parts.map((p) =>
                        'call' in p
                          ? { functionCall: { id: p.call.id, name: p.call.name, args: p.call.args } }
                          : p,
                      ),
                    },
                    ...(i === withIds.length - 1 ? { finishReason: 'STOP' } : {}),
                  },
                ],
                ...(i === withIds.length - 1
                  ? { usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 } }
                  : {}),
              } as unknown as GenerateContentResponse;
            }
          }
          let content = '';
          const calls: Array<{ index: number; id: string; name: string; args: unknown }> = [];
          let finish: string | null = null;
          let usage: unknown;
          for await (const chunk of toOpenAIChunks('gemini', 'gemini-x', stream())) {
            const c = chunk as {
              choices: Array<{
                delta: { content?: string | null; tool_calls?: Array<ToolCall & { index: number }> };
                finish_reason: string | null;
              }>;
              usage?: unknown;
            };
            if (c.usage) usage = c.usage;
            for (const choice of c.choices) {
              content += choice.delta.content ?? '';
              for (const t of choice.delta.tool_calls ?? [])
                calls.push({
                  index: t.index,
                  id: t.id,
                  name: t.function.name,
                  args: JSON.parse(t.function.arguments),
                });
              finish = choice.finish_reason ?? finish;
            }
          }
          const flat = withIds.flat();
          expect(content).toBe(flat.map((p) => ('text' in p ? p.text : '')).join(''));
          const sentCalls = flat.flatMap((p) => ('call' in p ? [p.call] : []));
          expect(calls).toEqual(
            sentCalls.map((c, index) => ({ index, id: c.id, name: c.name, args: c.args })),
          );
          expect(finish).toBe(sentCalls.length ? 'tool_calls' : 'stop');
          expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
        },
      ),
      { numRuns: 300 },
    );
  });
});
