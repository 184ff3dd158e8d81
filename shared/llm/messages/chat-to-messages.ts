import type { ChatUsage } from '../providers/anthropic/anthropic-chat-response.ts';
import type { AnthropicUsage } from '../providers/anthropic/anthropic-wire.ts';
import { batchesOf } from '../providers/sse.ts';
import type { ChatChunk, ChatCompletion } from '../providers/types.ts';

const STOP: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function mapFinishReason(reason: unknown): string {
  return (typeof reason === 'string' && STOP[reason]) || 'end_turn';
}

/** OpenAI usage (cached tokens inside prompt_tokens) → Anthropic usage (input excludes cache). */
export function mapChatUsage(usage: ChatUsage | null | undefined): Required<AnthropicUsage> {
  const cacheRead = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  const cacheCreation = usage?.prompt_tokens_details?.cache_creation_tokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cacheRead - cacheCreation),
    output_tokens: usage?.completion_tokens ?? 0,
    cache_read_input_tokens: cacheRead,
    cache_creation_input_tokens: cacheCreation,
  };
}

interface ChatMessage {
  content?: string | null;
  tool_calls?: Array<{ id: string; function: { name: string; arguments?: string } }>;
}

/** A chat.completion → an Anthropic message: text block, then tool_use blocks (ids kept). */
export function chatToMessage(completion: ChatCompletion, model: string) {
  const choice = (completion.choices as Array<{ message?: ChatMessage; finish_reason?: unknown }>)[0];
  const content: Array<Record<string, unknown>> = [];
  if (choice?.message?.content) content.push({ type: 'text', text: choice.message.content });
  for (const call of choice?.message?.tool_calls ?? []) {
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: toolInput(call.function.arguments),
    });
  }
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: mapFinishReason(choice?.finish_reason),
    stop_sequence: null,
    usage: mapChatUsage(completion.usage as ChatUsage | undefined),
  };
}

/** Tool arguments as an object; a model that wrote broken JSON still reaches the caller. */
function toolInput(args: string | undefined): unknown {
  if (!args) return {};
  try {
    const parsed = JSON.parse(args) as unknown;
    return parsed && typeof parsed === 'object' ? parsed : { value: parsed };
  } catch {
    return { _raw_arguments: args };
  }
}

function messageId(id: unknown): string {
  const text = typeof id === 'string' && id ? id : crypto.randomUUID().replace(/-/g, '');
  return text.startsWith('msg_') ? text : `msg_${text}`;
}

export interface MessagesEvent {
  type: string;
  [k: string]: unknown;
}

interface ChunkDelta {
  content?: string | null;
  tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }>;
}

/**
 * chat.completion.chunks → Anthropic's event sequence: `message_start`, `ping`, one
 * `content_block_start` / `_delta` / `_stop` run per text or tool_use block (tool arguments as
 * `input_json_delta`), then `message_delta` (stop reason, usage: Chat Completions reports usage
 * only at the end, so input tokens arrive here, not in `message_start`) and `message_stop`.
 * Given as the events of one upstream read at a time (`batchesOf`), so a writer sends each read's
 * as one piece; the closing events come as the last batch (with the opening ones if no chunk came).
 */
export async function* chatChunksToEvents(
  chunks: AsyncIterable<ChatChunk>,
  model: string,
): AsyncGenerator<MessagesEvent[]> {
  let started = false;
  let open: { index: number; kind: 'text' | 'tool'; tool?: number } | undefined;
  let nextIndex = 0;
  let stopReason = 'end_turn';
  let usage: ChatUsage | undefined;
  const toolBlocks = new Map<number, number>();
  const close = (out: MessagesEvent[]) => {
    if (open) out.push({ type: 'content_block_stop', index: open.index });
    open = undefined;
  };
  const begin = (id: unknown, out: MessagesEvent[]) => {
    started = true;
    out.push(
      {
        type: 'message_start',
        message: {
          id: messageId(id),
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      },
      { type: 'ping' },
    );
  };
  const push = (chunk: ChatChunk, out: MessagesEvent[]) => {
    if (!started) begin(chunk.id, out);
    if (chunk.usage) usage = chunk.usage as ChatUsage;
    const choice = (chunk.choices as Array<{ delta?: ChunkDelta; finish_reason?: unknown }> | undefined)?.[0];
    if (!choice) return;
    const delta = choice.delta ?? {};
    if (delta.content) {
      if (open?.kind !== 'text') {
        close(out);
        open = { index: nextIndex++, kind: 'text' };
        out.push({
          type: 'content_block_start',
          index: open.index,
          content_block: { type: 'text', text: '' },
        });
      }
      out.push({
        type: 'content_block_delta',
        index: open.index,
        delta: { type: 'text_delta', text: delta.content },
      });
    }
    for (const call of delta.tool_calls ?? []) {
      let index = toolBlocks.get(call.index);
      if (index === undefined) {
        close(out);
        index = nextIndex++;
        toolBlocks.set(call.index, index);
        open = { index, kind: 'tool', tool: call.index };
        out.push({
          type: 'content_block_start',
          index,
          content_block: {
            type: 'tool_use',
            id: call.id ?? `toolu_${index}`,
            name: call.function?.name ?? '',
            input: {},
          },
        });
      }
      if (call.function?.arguments) {
        out.push({
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: call.function.arguments },
        });
      }
    }
    if (choice.finish_reason) stopReason = mapFinishReason(choice.finish_reason);
  };
  let out: MessagesEvent[] = [];
  try {
    for await (const batch of batchesOf(chunks)) {
      for (const chunk of batch) push(chunk, out);
      if (out.length) yield out;
      out = [];
    }
  } catch (err) {
    // What this read built before the failure still goes out, ahead of the error event.
    if (out.length) yield out;
    throw err;
  }
  // An upstream that sent no chunk (a 200 whose body is only `[DONE]`) still gets a whole
  // message, empty, as a non-streamed empty completion would: never a stream with no events.
  if (!started) begin(undefined, out);
  close(out);
  out.push(
    {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: mapChatUsage(usage),
    },
    { type: 'message_stop' },
  );
  yield out;
}
