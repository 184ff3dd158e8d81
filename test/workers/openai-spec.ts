import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import vendored from '../fixtures/openai-openapi/schemas.json' with { type: 'json' };

/**
 * Validates bodies and stream events against OpenAI's published OpenAPI description (the parts
 * vendored in test/fixtures/openai-openapi/, MIT). Formats are not checked (the spec's
 * `unixtime` is not a JSON Schema format); everything else is: required fields, types, enums,
 * the event union.
 */
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
ajv.addSchema({ $id: 'openai', components: { schemas: normaliseNullable(vendored.schemas) } });
const cache = new Map<string, ValidateFunction>();

export type OpenAISchema =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'CreateCompletionResponse'
  | 'CreateEmbeddingResponse'
  | 'ErrorResponse'
  | 'ListModelsResponse'
  | 'Model'
  | 'Response'
  | 'ResponseStreamEvent'
  | 'ResponseItemList';

/**
 * The spec still carries OpenAPI 3.0's `nullable: true` in places (e.g. the chat stream chunk's
 * `finish_reason`, `logprobs` and `usage`). Ajv accepts `nullable` only beside `type`, and even
 * there an `enum` without null would refuse the null. Rewrite it as JSON Schema: `null` added to
 * `type` (and to `enum`), or, with no `type` (a `$ref`), `anyOf: [the schema, {type: null}]`.
 */
export function normaliseNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normaliseNullable);
  if (node === null || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const out = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, normaliseNullable(v)]));
  if (nullable !== true) return out;
  if (out.type !== undefined) {
    const types = Array.isArray(out.type) ? out.type : [out.type];
    out.type = types.includes('null') ? types : [...types, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    return out;
  }
  const { description, ...schema } = out;
  return { ...(description === undefined ? {} : { description }), anyOf: [schema, { type: 'null' }] };
}

type Schema = { anyOf?: Array<{ $ref?: string }>; properties?: { type?: { enum?: string[] } } };
const schemas = vendored.schemas as unknown as Record<string, Schema>;

/** The union member a stream event's `type` names, so a failure says what is wrong with it. */
function eventSchema(type: string): string {
  for (const member of schemas.ResponseStreamEvent!.anyOf ?? []) {
    const name = member.$ref!.split('/').pop()!;
    if (schemas[name]?.properties?.type?.enum?.includes(type)) return name;
  }
  throw new Error(`not a valid OpenAI ResponseStreamEvent: no event type '${type}'`);
}

/** Throws with ajv's first errors (path and message) when `value` does not match. */
export function assertOpenAI(schema: OpenAISchema, value: unknown): void {
  const name =
    schema === 'ResponseStreamEvent' ? eventSchema(String((value as { type?: unknown }).type)) : schema;
  let validate = cache.get(name);
  if (!validate) {
    validate = ajv.compile({ $ref: `openai#/components/schemas/${name}` });
    cache.set(name, validate);
  }
  if (!validate(value)) {
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(
      `not a valid OpenAI ${name}: ${errors.join('; ')}\n${JSON.stringify(value).slice(0, 600)}`,
    );
  }
}

/** The SSE events of a Responses stream, parsed (`event:` must equal the data's `type`). */
export function responseEvents(text: string): Array<{ type: string; [k: string]: unknown }> {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.+)$/m.exec(block)![1]!) as { type: string };
      if (event !== data.type) throw new Error(`event: ${event} but data.type ${data.type}`);
      return data;
    });
}

/**
 * The JSON chunks of a Chat Completions (or legacy Completions) stream; the stream must end with
 * `data: [DONE]` and carry nothing but `data:` events (an `error` event fails here, loudly).
 */
export function chatChunks(text: string): unknown[] {
  const events = text.split('\n\n').filter((block) => block.trim());
  if (events.at(-1)?.trim() !== 'data: [DONE]')
    throw new Error(`stream does not end in [DONE]: ${text.slice(-300)}`);
  return events.slice(0, -1).map((block) => {
    if (!block.startsWith('data: ')) throw new Error(`not a data event: ${block.slice(0, 300)}`);
    return JSON.parse(block.slice('data: '.length));
  });
}
