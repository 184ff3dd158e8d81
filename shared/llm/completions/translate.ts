import type { ChatChunk, ChatCompletion, ChatRequest } from '../providers/types.ts';

/**
 * Legacy Completions (`POST /v1/completions`) for upstreams that only speak chat (Gemini): one
 * prompt becomes one user turn, the first choice's text becomes the completion's text. OpenAI-type
 * upstreams get the request as sent instead.
 */
export interface CompletionRequest {
  prompt: string | string[] | number[] | number[][];
  max_tokens?: number;
  stop?: string | string[] | null;
  suffix?: string | null;
  temperature?: number;
  top_p?: number;
  n?: number;
  seed?: number;
  user?: string;
  stream?: boolean;
  [extra: string]: unknown;
}

export function completionToChat(request: CompletionRequest, prompt: string): ChatRequest {
  const chat: ChatRequest = { messages: [{ role: 'user', content: prompt }] };
  for (const key of ['max_tokens', 'stop', 'temperature', 'top_p', 'n', 'seed', 'user'] as const) {
    if (request[key] != null) chat[key] = request[key];
  }
  return chat;
}

type Choice = { index?: number; message?: { content?: string | null }; finish_reason?: string | null };

/** Chat completions (one per prompt) as one text_completion, choices in prompt order. */
export function chatToCompletion(completions: ChatCompletion[], model: string) {
  let index = 0;
  let prompt = 0;
  let output = 0;
  const choices = completions.flatMap((completion) => {
    prompt += completion.usage?.prompt_tokens ?? 0;
    output += completion.usage?.completion_tokens ?? 0;
    return ((completion.choices as Choice[] | undefined) ?? []).map((choice) => ({
      text: choice.message?.content ?? '',
      index: index++,
      logprobs: null,
      finish_reason: choice.finish_reason ?? 'stop',
    }));
  });
  return {
    id: `cmpl-${crypto.randomUUID().replaceAll('-', '')}`,
    object: 'text_completion' as const,
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output },
  };
}

/** One chat chunk as a text_completion chunk (a usage-only chunk stays usage-only). */
export function chunkToCompletion(chunk: ChatChunk, id: string, model: string): ChatChunk {
  const choices = ((chunk.choices as Array<Choice & { delta?: { content?: string | null } }>) ?? []).map(
    (choice) => ({
      text: choice.delta?.content ?? '',
      index: choice.index ?? 0,
      logprobs: null,
      finish_reason: choice.finish_reason ?? null,
    }),
  );
  return {
    id,
    object: 'text_completion',
    created: Number(chunk.created ?? Math.floor(Date.now() / 1000)),
    model,
    choices,
    ...(chunk.usage ? { usage: chunk.usage } : {}),
  };
}
