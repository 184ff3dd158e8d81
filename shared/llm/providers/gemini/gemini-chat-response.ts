import { ProviderError } from '../../provider-error.ts';
import type { ChatChunk, ChatCompletion, Usage } from '../types.ts';
import type { GenerateContentResponse } from './gemini-wire.ts';

const FINISH: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  MALFORMED_FUNCTION_CALL: 'stop',
};

export function mapGeminiFinishReason(
  reason: string | null | undefined,
  hasToolCalls: boolean,
): string | null {
  if (!reason) return null;
  if (hasToolCalls && (reason === 'STOP' || reason === 'FINISH_REASON_UNSPECIFIED')) return 'tool_calls';
  return FINISH[reason] ?? 'stop';
}

export function mapGeminiUsage(response: GenerateContentResponse): Usage | undefined {
  const u = response.usageMetadata;
  if (!u) return undefined;
  const prompt = u.promptTokenCount ?? 0;
  const completion = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.totalTokenCount ?? prompt + completion,
  };
}

/** A prompt the upstream refused to answer: not retryable, and no other model should be tried blindly. */
export function assertNotBlocked(provider: string, response: GenerateContentResponse): void {
  const reason = response.promptFeedback?.blockReason;
  if (reason) {
    throw new ProviderError(provider, `Gemini blocked the prompt (${reason}).`, {
      status: 400,
      code: 'content_blocked',
      retryable: false,
      fallback: false,
    });
  }
}

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

function toolCallsOf(response: GenerateContentResponse, candidate = 0): ToolCall[] {
  const parts = response.candidates?.[candidate]?.content?.parts ?? [];
  return parts
    .filter((p) => p.functionCall)
    .map((p, i) => ({
      // Gemini 2.x returns ids; older models do not, so make one that is stable for the response.
      id: p.functionCall!.id ?? `call_${i}_${p.functionCall!.name}`,
      type: 'function' as const,
      function: {
        name: p.functionCall!.name ?? 'tool',
        arguments: JSON.stringify(p.functionCall!.args ?? {}),
      },
    }));
}

function textOf(response: GenerateContentResponse, candidate = 0): string {
  const parts = response.candidates?.[candidate]?.content?.parts ?? [];
  return parts
    .filter((p) => typeof p.text === 'string' && !p.thought)
    .map((p) => p.text)
    .join('');
}

/** Gemini `generateContent` response → OpenAI `chat.completion`. */
export function toOpenAICompletion(
  provider: string,
  model: string,
  response: GenerateContentResponse,
): ChatCompletion {
  assertNotBlocked(provider, response);
  const candidates = response.candidates ?? [];
  return {
    id: `chatcmpl-${response.responseId ?? crypto.randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: candidates.map((c, index) => {
      const toolCalls = toolCallsOf(response, index);
      const text = textOf(response, index);
      return {
        index,
        message: {
          role: 'assistant',
          content: text || (toolCalls.length ? null : ''),
          refusal: null,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: mapGeminiFinishReason(c.finishReason, toolCalls.length > 0) ?? 'stop',
      };
    }),
    usage: mapGeminiUsage(response) ?? null,
  };
}

/**
 * Gemini stream responses → OpenAI `chat.completion.chunk`s: the first carries the role, text
 * arrives as content deltas, function calls as complete tool_call deltas (Gemini sends them
 * whole), the last content chunk the finish reason, then a usage-only chunk (as OpenAI does with
 * `stream_options.include_usage`).
 */
export async function* toOpenAIChunks(
  provider: string,
  model: string,
  stream: AsyncIterable<GenerateContentResponse>,
): AsyncGenerator<ChatChunk> {
  const id = `chatcmpl-${crypto.randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'chat.completion.chunk', created, model };
  let first = true;
  let toolIndex = 0;
  let usage: Usage | undefined;
  let sawTools = false;
  for await (const response of stream) {
    assertNotBlocked(provider, response);
    usage = mapGeminiUsage(response) ?? usage;
    const text = textOf(response);
    const calls = toolCallsOf(response).map((call) => ({ index: toolIndex++, ...call }));
    sawTools ||= calls.length > 0;
    const finish = mapGeminiFinishReason(response.candidates?.[0]?.finishReason, sawTools);
    if (!text && calls.length === 0 && !finish && !first) continue;
    const delta: Record<string, unknown> = {};
    if (first) delta.role = 'assistant';
    if (text || first) delta.content = text || (calls.length ? null : '');
    if (calls.length) delta.tool_calls = calls;
    first = false;
    yield { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
  }
  if (usage) yield { ...base, choices: [], usage };
}
