import * as z from 'zod';

const block = z.looseObject({ type: z.string() });

/**
 * What we check of an inbound Messages request ourselves (Anthropic's own limits); everything
 * else goes upstream as sent (native) or through the translation (other providers).
 */
const messagesFields = {
  model: z.string().max(200).optional(),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant']),
        content: z.union([z.string(), z.array(block)]),
      }),
    )
    .min(1),
  system: z
    .union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))])
    .optional(),
  tools: z.array(z.looseObject({ name: z.string().min(1).max(128) })).optional(),
  tool_choice: z
    .looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() })
    .optional(),
};

export const messagesRequestSchema = z
  .object({
    ...messagesFields,
    max_tokens: z.number().int().positive().max(1_000_000),
    stream: z.boolean().optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.number().int().min(0).optional(),
    stop_sequences: z.array(z.string()).max(64).optional(),
  })
  .loose();

export const countTokensRequestSchema = z.object(messagesFields).loose();
