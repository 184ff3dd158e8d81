import * as z from 'zod/mini';
import { lazy } from '../../../http/lazy.ts';

/**
 * Anthropic Messages API shapes: TypeScript types for what we build, and minimal zod schemas for
 * what we read from upstream bodies (only the fields we use; `looseObject` so a new field never
 * breaks us). Reference: https://docs.anthropic.com/en/api/messages
 */

export const ANTHROPIC_VERSION = '2023-06-01';

export type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

export type AnthropicBlock =
  | { type: 'text'; text: string; [k: string]: unknown }
  | { type: 'image'; source: AnthropicImageSource; [k: string]: unknown }
  | { type: 'document'; source: Record<string, unknown>; [k: string]: unknown }
  | { type: 'tool_use'; id: string; name: string; input: unknown; [k: string]: unknown }
  | {
      type: 'tool_result';
      tool_use_id: string;
      content?: string | AnthropicBlock[];
      is_error?: boolean;
      [k: string]: unknown;
    }
  | { type: 'thinking'; thinking: string; signature?: string; [k: string]: unknown }
  | { type: 'redacted_thinking'; data: string; [k: string]: unknown }
  | { type: string; [k: string]: unknown };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: unknown;
  [k: string]: unknown;
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessage[];
  system?: string | Array<{ type: 'text'; text: string; [k: string]: unknown }>;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id?: string };
  output_config?: { format?: { type: 'json_schema'; schema: unknown }; [k: string]: unknown };
  stream?: boolean;
  [k: string]: unknown;
}

// Each upstream schema is built on its first use (`lazy`: call it for the schema), not at module
// load: a new isolate of chat, messages or embed builds none of them until an Anthropic model is
// called. Not `z.lazy`: each of those is a zod/mini instance made at load (~2 KiB of young
// generation in Node, its methods as closures of its own), where `lazy` is one closure.
export const anthropicUsageSchema = lazy(() =>
  z.looseObject({
    input_tokens: z.nullish(z.number()),
    output_tokens: z.nullish(z.number()),
    cache_read_input_tokens: z.nullish(z.number()),
    cache_creation_input_tokens: z.nullish(z.number()),
  }),
);
export type AnthropicUsage = z.infer<ReturnType<typeof anthropicUsageSchema>>;

const blockSchema = lazy(() => z.looseObject({ type: z.string() }));

/** A non-streaming Messages response. */
export const anthropicMessageSchema = lazy(() =>
  z.looseObject({
    id: z.string(),
    type: z.literal('message'),
    role: z.literal('assistant'),
    model: z.string(),
    content: z.array(blockSchema()),
    stop_reason: z.nullish(z.string()),
    stop_sequence: z.nullish(z.string()),
    usage: anthropicUsageSchema(),
  }),
);
export type AnthropicResponse = z.infer<ReturnType<typeof anthropicMessageSchema>>;

/** One SSE event of a Messages stream, by `type` (the `data` JSON carries it too). */
export const anthropicEventSchema = lazy(() =>
  z.looseObject({
    type: z.string(),
    index: z.nullish(z.int()),
    message: z.nullish(
      z.looseObject({ id: z.string(), model: z.string(), usage: z.nullish(anthropicUsageSchema()) }),
    ),
    content_block: z.nullish(blockSchema()),
    delta: z.nullish(
      z.looseObject({
        type: z.nullish(z.string()),
        text: z.nullish(z.string()),
        partial_json: z.nullish(z.string()),
        stop_reason: z.nullish(z.string()),
        stop_sequence: z.nullish(z.string()),
      }),
    ),
    usage: z.nullish(anthropicUsageSchema()),
    error: z.nullish(z.looseObject({ type: z.nullish(z.string()), message: z.nullish(z.string()) })),
  }),
);
export type AnthropicEvent = z.infer<ReturnType<typeof anthropicEventSchema>>;

export const countTokensSchema = lazy(() => z.looseObject({ input_tokens: z.number() }));

/** `{"type":"error","error":{"type":"...","message":"..."}}`, the one error shape of the API. */
export const anthropicErrorSchema = lazy(() =>
  z.looseObject({
    type: z.optional(z.literal('error')),
    error: z.looseObject({ type: z.string(), message: z.string() }),
  }),
);
