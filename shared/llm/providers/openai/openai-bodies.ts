import * as z from 'zod/mini';
import { ProviderError } from '../../provider-error.ts';

/** Only what we read ourselves; everything else passes through to the caller untouched. */
export const completionSchema = z.looseObject({ choices: z.array(z.unknown()) });

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
