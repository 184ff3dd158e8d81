import * as z from 'zod/mini';
import { lazy } from '../../http/lazy.ts';

// zod/mini, as every schema of the messages function: classic zod stays out of its bundle. Both
// schemas are built on first use (`lazy`: call it for the schema), not at module load: they were
// the largest allocation of the messages bundle's start-up (~190 KB of young generation in Node),
// enough for a new isolate's first request, whatever its route, to pay a scavenge. Not `z.lazy`
// for the route: its instance is itself made at load (~2 KiB in Node).

/**
 * What we check of an inbound Messages request ourselves (Anthropic's own limits); everything
 * else goes upstream as sent (native) or through the translation (other providers).
 */
const fields = () => {
  const block = z.looseObject({ type: z.string() });
  return {
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
};
let built: ReturnType<typeof fields> | undefined;
/** The fields both schemas share, built once, by whichever is parsed first. */
function messagesFields() {
  if (!built) built = fields();
  return built;
}

export const messagesRequest = lazy(() =>
  z.looseObject({
    ...messagesFields(),
    max_tokens: z.number().check(z.int(), z.positive(), z.lte(1_000_000)),
    stream: z.optional(z.boolean()),
    temperature: z.optional(z.number().check(z.gte(0), z.lte(1))),
    top_p: z.optional(z.number().check(z.gte(0), z.lte(1))),
    top_k: z.optional(z.number().check(z.int(), z.gte(0))),
    stop_sequences: z.optional(z.array(z.string()).check(z.maxLength(64))),
  }),
);

export const countTokensRequest = lazy(() => z.looseObject(messagesFields()));

/**
 * The same schemas for the OpenAPI generator (local/openapi-operations.ts) (marked pure, so a
 * bundle where nothing reads it drops it, z.lazy instance and class).
 */
export const messagesRequestSchema = /* @__PURE__ */ z.lazy(messagesRequest);
export const countTokensRequestSchema = /* @__PURE__ */ z.lazy(countTokensRequest);
