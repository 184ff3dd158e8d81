import * as z from 'zod';

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

export const anthropicUsageSchema = z.looseObject({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
});
export type AnthropicUsage = z.infer<typeof anthropicUsageSchema>;

const blockSchema = z.looseObject({ type: z.string() });

/** A non-streaming Messages response. */
export const anthropicMessageSchema = z.looseObject({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(blockSchema),
  stop_reason: z.string().nullish(),
  stop_sequence: z.string().nullish(),
  usage: anthropicUsageSchema,
});
export type AnthropicResponse = z.infer<typeof anthropicMessageSchema>;

/** One SSE event of a Messages stream, by `type` (the `data` JSON carries it too). */
export const anthropicEventSchema = z.looseObject({
  type: z.string(),
  index: z.number().int().nullish(),
  message: z
    .looseObject({ id: z.string(), model: z.string(), usage: anthropicUsageSchema.nullish() })
    .nullish(),
  content_block: blockSchema.nullish(),
  delta: z
    .looseObject({
      type: z.string().nullish(),
      text: z.string().nullish(),
      partial_json: z.string().nullish(),
      stop_reason: z.string().nullish(),
      stop_sequence: z.string().nullish(),
    })
    .nullish(),
  usage: anthropicUsageSchema.nullish(),
  error: z.looseObject({ type: z.string().nullish(), message: z.string().nullish() }).nullish(),
});
export type AnthropicEvent = z.infer<typeof anthropicEventSchema>;

export const countTokensSchema = z.looseObject({ input_tokens: z.number() });

/** `{"type":"error","error":{"type":"...","message":"..."}}`, the one error shape of the API. */
export const anthropicErrorSchema = z.looseObject({
  type: z.literal('error').optional(),
  error: z.looseObject({ type: z.string(), message: z.string() }),
});
