import * as z from 'zod';
import { ProviderError } from '../../provider-error.ts';

/** Only what we read ourselves; everything else passes through to the caller untouched. */
export const completionSchema = z.looseObject({ choices: z.array(z.unknown()) });

export const embeddingsSchema = z.looseObject({
  data: z.array(
    z.looseObject({ index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) }),
  ),
  usage: z.looseObject({ prompt_tokens: z.number().optional() }).nullish(),
});

export function parseUpstream<S extends z.ZodType>(provider: string, schema: S, json: unknown): z.infer<S> {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ProviderError(
    provider,
    `upstream sent an unexpected body (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
    { status: 502 },
  );
}
