import { ProviderError } from '../../provider-error.ts';
import type { ChatChunk, ChatCompletion, Usage } from '../types.ts';
import { anthropicStreamError } from './anthropic-errors.ts';
import type { AnthropicEvent, AnthropicResponse, AnthropicUsage } from './anthropic-wire.ts';

const STOP: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export function mapStopReason(reason: string | null | undefined): string | null {
  if (!reason) return null;
  return STOP[reason] ?? 'stop';
}

/** OpenAI usage with a cache breakdown; OpenAI's prompt_tokens counts cached tokens too. */
export interface ChatUsage extends Usage {
  prompt_tokens_details?: { cached_tokens: number; cache_creation_tokens: number };
}

export function mapAnthropicUsage(usage: AnthropicUsage | null | undefined): ChatUsage {
  const input = usage?.input_tokens ?? 0;
  const cacheRead = usage?.cache_read_input_tokens ?? 0;
  const cacheCreation = usage?.cache_creation_input_tokens ?? 0;
  const output = usage?.output_tokens ?? 0;
  const prompt = input + cacheRead + cacheCreation;
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: cacheRead, cache_creation_tokens: cacheCreation },
  };
}

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * Anthropic message → OpenAI chat.completion: text blocks joined into `content`, `tool_use`
 * blocks into `tool_calls` (ids kept, input as a JSON string). Thinking blocks are not carried
 * (Chat Completions has no place for them; see docs/LLM.md).
 */
export function toOpenAICompletion(response: AnthropicResponse, created = nowSeconds()): ChatCompletion {
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const block of response.content) {
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    if (block.type === 'tool_use') {
      toolCalls.push({
        id: String(block.id),
        type: 'function',
        function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  return {
    id: response.id,
    object: 'chat.completion',
    created,
    model: response.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (toolCalls.length ? null : ''),
          refusal: null,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: mapStopReason(response.stop_reason) ?? 'stop',
      },
    ],
    usage: mapAnthropicUsage(response.usage),
  };
}

/**
 * Anthropic stream events → chat.completion.chunks: `message_start` opens with the role,
 * text deltas become content, a `tool_use` block start opens a tool call (id and name) whose
 * `input_json_delta`s are its arguments, `message_delta` carries the finish reason, and
 * `message_stop` ends with a usage chunk (choices: []) as OpenAI's `include_usage` does. `ping`
 * and thinking are skipped; an `error` event throws.
 */
export async function* toOpenAIChunks(
  provider: string,
  events: AsyncIterable<AnthropicEvent>,
  created = nowSeconds(),
): AsyncGenerator<ChatChunk> {
  let id = 'msg';
  let model = '';
  let usage: AnthropicUsage = {};
  // Anthropic numbers content blocks; OpenAI numbers tool calls only.
  const toolIndex = new Map<number, number>();
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): ChatChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  for await (const event of events) {
    switch (event.type) {
      case 'message_start':
        id = event.message?.id ?? id;
        model = event.message?.model ?? model;
        usage = { ...usage, ...definedOnly(event.message?.usage) };
        yield chunk({ role: 'assistant', content: '' });
        break;
      case 'content_block_start': {
        const block = event.content_block;
        if (block?.type === 'tool_use') {
          const index = toolIndex.size;
          toolIndex.set(event.index ?? 0, index);
          yield chunk({
            tool_calls: [
              {
                index,
                id: String(block.id),
                type: 'function',
                function: { name: String(block.name), arguments: '' },
              },
            ],
          });
        } else if (block?.type === 'text' && typeof block.text === 'string' && block.text) {
          yield chunk({ content: block.text });
        }
        break;
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta?.type === 'text_delta' && delta.text) yield chunk({ content: delta.text });
        if (delta?.type === 'input_json_delta' && delta.partial_json) {
          const index = toolIndex.get(event.index ?? 0);
          if (index !== undefined)
            yield chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] });
        }
        break;
      }
      case 'message_delta':
        usage = { ...usage, ...definedOnly(event.usage) };
        yield chunk({}, mapStopReason(event.delta?.stop_reason) ?? 'stop');
        break;
      case 'message_stop':
        yield {
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [],
          usage: mapAnthropicUsage(usage),
        };
        return;
      case 'error':
        throw anthropicStreamError(provider, event);
      default:
        break; // ping, content_block_stop, thinking and signature deltas
    }
  }
  throw new ProviderError(provider, 'upstream stream ended before message_stop', {
    code: 'upstream_unreachable',
  });
}

function definedOnly(usage: AnthropicUsage | null | undefined): AnthropicUsage {
  if (!usage) return {};
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== null && v !== undefined));
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
