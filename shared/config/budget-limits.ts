import * as z from 'zod';

/** Spend limits of one key, agent or role; each absent one is unlimited. */
export const budgetLimitsSchema = z
  .object({
    /** USD per UTC day. */
    daily_usd: z.number().nonnegative().nullish(),
    /** USD per UTC calendar month. */
    monthly_usd: z.number().nonnegative().nullish(),
    /** Tokens (prompt + completion) per minute. */
    tpm: z.number().int().nonnegative().nullish(),
    /** LLM requests per minute. */
    rpm: z.number().int().nonnegative().nullish(),
  })
  .strict();
export type BudgetLimits = z.infer<typeof budgetLimitsSchema>;
