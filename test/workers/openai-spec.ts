import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import vendored from '../fixtures/openai-openapi/schemas.json' with { type: 'json' };

/**
 * Validates bodies and stream events against OpenAI's published OpenAPI description (the parts
 * vendored in test/fixtures/openai-openapi/, MIT). Formats are not checked (the spec's
 * `unixtime` is not a JSON Schema format); everything else is: required fields, types, enums,
 * the event union.
 */
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
ajv.addSchema({ $id: 'openai', components: { schemas: vendored.schemas } });
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
