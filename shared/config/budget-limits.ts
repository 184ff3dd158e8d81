import * as z from 'zod/mini';

/**
 * Spend limits of one key, agent or role; each absent one is unlimited. zod/mini: the usage
 * function's bodies need nothing of the classic API, and it stays out of that bundle.
 */
export const budgetLimitsSchema = z.strictObject({
  /** USD per UTC day. */
  daily_usd: z.nullish(z.number().check(z.nonnegative())),
  /** USD per UTC calendar month. */
  monthly_usd: z.nullish(z.number().check(z.nonnegative())),
  /** Tokens (prompt + completion) per minute. */
  tpm: z.nullish(z.number().check(z.int(), z.nonnegative())),
  /** LLM requests per minute. */
  rpm: z.nullish(z.number().check(z.int(), z.nonnegative())),
});
export type BudgetLimits = z.infer<typeof budgetLimitsSchema>;
