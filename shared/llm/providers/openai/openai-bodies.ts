import * as z from 'zod/mini';
import { ProviderError } from '../../provider-error.ts';

/**
 * A chat completion has an object root with a `choices` array: only what we read ourselves, and
 * everything else passes through to the caller untouched. Checked by hand, with the message
 * `z.looseObject({ choices: z.array(z.unknown()) })` gave: zod copied every key of the answer
 * into a new object that nothing used, on every chat call (issue #23).
 */
export function checkCompletion(provider: string, json: unknown): void {
  const where =
    typeof json !== 'object' || json === null || Array.isArray(json)
      ? 'root'
      : Array.isArray((json as { choices?: unknown }).choices)
        ? undefined
        : 'choices';
  if (where) {
    throw new ProviderError(provider, `upstream sent an unexpected body (${where}: Invalid input)`, {
      status: 502,
    });
  }
}

/** Classic and zod/mini schemas alike (the Gemini and Anthropic wire schemas are mini). */
export function parseUpstream<S extends z.core.$ZodType>(
  provider: string,
  schema: S,
  json: unknown,
): z.infer<S> {
  const result = z.safeParse(schema, json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ProviderError(
    provider,
    `upstream sent an unexpected body (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
    { status: 502 },
  );
}
