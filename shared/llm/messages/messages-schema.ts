import * as z from 'zod/mini';

// zod/mini, as every schema of the messages function: classic zod stays out of its bundle.
const block = z.looseObject({ type: z.string() });

/**
 * What we check of an inbound Messages request ourselves (Anthropic's own limits); everything
 * else goes upstream as sent (native) or through the translation (other providers).
 */
const messagesFields = {
  model: z.optional(z.string().check(z.maxLength(200))),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant']),
        content: z.union([z.string(), z.array(block)]),
      }),
    )
    .check(z.minLength(1)),
  system: z.optional(
    z.union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))]),
  ),
  tools: z.optional(z.array(z.looseObject({ name: z.string().check(z.minLength(1), z.maxLength(128)) }))),
  tool_choice: z.optional(
    z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.optional(z.string()) }),
  ),
};

export const messagesRequestSchema = z.looseObject({
  ...messagesFields,
  max_tokens: z.number().check(z.int(), z.positive(), z.lte(1_000_000)),
  stream: z.optional(z.boolean()),
  temperature: z.optional(z.number().check(z.gte(0), z.lte(1))),
  top_p: z.optional(z.number().check(z.gte(0), z.lte(1))),
  top_k: z.optional(z.number().check(z.int(), z.gte(0))),
  stop_sequences: z.optional(z.array(z.string()).check(z.maxLength(64))),
});

export const countTokensRequestSchema = z.looseObject(messagesFields);
