import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatChunk, ChatCompletion } from '../providers/types.ts';
import { ChatToResponseEvents, responseFromEvents } from './stream.ts';
import {
  fromChatCompletion,
  fromChatRequest,
  normalizeInput,
  responseShell,
  toChatCompletion,
  toChatRequest,
} from './translate.ts';
import type { InputItem, ResponseEvent, ResponseObject } from './types.ts';

// Round trips of the Responses ⇄ Chat Completions translation over generated conversations,
// answers and streams: every text, tool-call id, name and arguments, and the usage survive.

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const callId = fc.stringMatching(/^call_[A-Za-z0-9]{1,12}$/);
const toolName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,20}$/);
const args = fc
  .dictionary(
    fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 4 },
  )
  .map((a) => JSON.stringify(a));

/** A turn as Responses items: a message, or an assistant's calls each followed by its output. */
const turn = fc.oneof(
  fc
    .record({ role: fc.constantFrom('user', 'developer' as const), text })
    .map(({ role, text }) => [{ type: 'message', role, content: [{ type: 'input_text', text }] }]),
  text.map((t) => [
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: t, annotations: [] }] },
  ]),
  fc
    .uniqueArray(fc.record({ call_id: callId, name: toolName, arguments: args, output: text }), {
      minLength: 1,
      maxLength: 3,
      selector: (c) => c.call_id,
    })
    .map((calls) => [
      ...calls.map(({ output: _o, ...c }) => ({ type: 'function_call', ...c })),
      ...calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: c.output })),
    ]),
);
const conversation = fc
  .array(turn, { minLength: 1, maxLength: 6 })
  .map((turns) => turns.flat() as InputItem[]);

/** What must survive: texts in order, calls (id, name, arguments), outputs by call id. */
function essence(items: InputItem[]) {
  return items.map((i) => {
    if (i.type === 'message') {
      const parts = i.content as Array<{ text: string }>;
      return ['text', i.role === 'assistant' ? 'assistant' : i.role, parts.map((p) => p.text).join('')];
    }
    if (i.type === 'function_call') return ['call', i.call_id, i.name, i.arguments];
    return ['output', i.call_id, i.output];
  });
}

const usage = fc
  .record({ prompt_tokens: fc.nat(100_000), completion_tokens: fc.nat(100_000) })
  .map((u) => ({ ...u, total_tokens: u.prompt_tokens + u.completion_tokens }));

/** A chat completion's answer: text, or text and/or tool calls, with a finish reason and usage. */
const answer = fc.record({
  content: fc.option(text, { nil: null }),
  calls: fc.uniqueArray(fc.record({ id: callId, name: toolName, arguments: args }), {
    maxLength: 3,
    selector: (c) => c.id,
  }),
  finish: fc.constantFrom('stop', 'length', 'tool_calls'),
  usage,
});

type Answer = typeof answer extends fc.Arbitrary<infer T> ? T : never;

function completionOf(a: Answer): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: a.content,
          ...(a.calls.length
            ? {
                tool_calls: a.calls.map((c) => ({
                  id: c.id,
                  type: 'function',
                  function: { name: c.name, arguments: c.arguments },
                })),
              }
            : {}),
        },
        finish_reason: a.finish,
      },
    ],
    usage: a.usage,
  };
}

const shell = () => responseShell({}, { id: 'resp_1', model: 'm', createdAt: 1, store: false });

/** Essence of a Response: its text, its calls, its status, its usage. */
function responseEssence(r: ResponseObject) {
  let text = '';
  const calls: unknown[] = [];
  for (const item of r.output) {
    if (item.type === 'message')
      text += (item.content as Array<{ text?: string }>).map((p) => p.text ?? '').join('');
    if (item.type === 'function_call') calls.push([item.call_id, item.name, item.arguments]);
  }
  return { text, calls, status: r.status, usage: r.usage };
}

/** Splits a string into 1..n pieces at arbitrary points (graphemes kept whole). */
const splits = (s: string, cuts: number[]) => {
  const chars = [...s];
  const points = [...new Set(cuts.map((c) => c % (chars.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of [...points, chars.length]) {
    if (p > from) out.push(chars.slice(from, p).join(''));
    from = Math.max(from, p);
  }
  return out.length ? out : [''];
};

describe('Responses ⇄ Chat Completions', () => {
  it('a request round trip keeps every text, tool-call id, name, arguments and output, in order', () => {
    fc.assert(
      fc.property(conversation, fc.option(text, { nil: undefined }), (items, instructions) => {
        const normalized = normalizeInput(items);
        const chat = toChatRequest({ instructions, input: items }, normalized);
        const back = fromChatRequest(chat);
        expect(back.request.instructions).toBe(instructions);
        expect(essence(back.items)).toEqual(essence(normalized));
        // And the chat side is a fixed point: translating back again gives the same chat request.
        expect(toChatRequest(back.request, normalizeInput(back.items))).toEqual(chat);
      }),
    );
  });

  it('an answer round trip keeps text, tool-call ids and arguments, finish and usage', () => {
    fc.assert(
      fc.property(answer, (a) => {
        const completion = completionOf(a);
        const response = fromChatCompletion(completion, shell());
        const back = toChatCompletion(response);
        const message = (
          back.choices as Array<{ message: Record<string, unknown>; finish_reason: string }>
        )[0]!;
        expect(message.message.content ?? '').toBe(a.content ?? '');
        expect(
          (
            (message.message.tool_calls as Array<{
              id: string;
              function: { name: string; arguments: string };
            }>) ?? []
          ).map((c) => [c.id, c.function.name, c.function.arguments]),
        ).toEqual(a.calls.map((c) => [c.id, c.name, c.arguments]));
        expect(back.usage).toEqual(a.usage);
        expect(response.status).toBe(a.finish === 'length' ? 'incomplete' : 'completed');
      }),
    );
  });

  it('a streamed answer, chunked anywhere, ends as the same Response as the whole one', () => {
    fc.assert(
      fc.property(answer, fc.array(fc.nat(60), { maxLength: 5 }), (a, cuts) => {
        const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };
        const chunk = (delta: Record<string, unknown>, finish: string | null = null): ChatChunk => ({
          ...base,
          choices: [{ index: 0, delta, finish_reason: finish }],
        });
        const chunks: ChatChunk[] = [chunk({ role: 'assistant', content: '' })];
        if (a.content) for (const piece of splits(a.content, cuts)) chunks.push(chunk({ content: piece }));
        a.calls.forEach((c, index) => {
          chunks.push(
            chunk({
              tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }],
            }),
          );
          for (const piece of splits(c.arguments, cuts))
            chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
        });
        chunks.push(chunk({}, a.finish), { ...base, choices: [], usage: a.usage });

        const events = new ChatToResponseEvents(shell());
        const all: ResponseEvent[] = [
          ...events.start(),
          ...chunks.flatMap((c) => events.push(c)),
          ...events.end(),
        ];
        expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
        const streamed = responseFromEvents(all)!;
        expect(responseEssence(streamed)).toEqual(
          responseEssence(fromChatCompletion(completionOf(a), shell())),
        );
        // Deltas add up to what the done events say.
        const deltas = all
          .filter((e) => e.type === 'response.output_text.delta')
          .map((e) => e.delta)
          .join('');
        expect(deltas).toBe(a.content ?? '');
        const argDeltas = all
          .filter((e) => e.type === 'response.function_call_arguments.delta')
          .map((e) => e.delta);
        expect(argDeltas.join('')).toBe(a.calls.map((c) => c.arguments).join(''));
        // Every item that was added is done, in output order.
        const added = all.filter((e) => e.type === 'response.output_item.added').map((e) => e.output_index);
        const done = all.filter((e) => e.type === 'response.output_item.done').map((e) => e.output_index);
        expect(done).toEqual(added);
      }),
    );
  });
});
