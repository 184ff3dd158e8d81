import * as z from 'zod/mini';
import { lazy } from '../http/lazy.ts';

/**
 * The fields of the budget limits schema, made anew on each call: the OpenAPI generator extends
 * them into its own budget object (local/openapi-usage.ts), which a lazy schema's `.shape` cannot
 * give.
 */
export const budgetLimitsShape = () => ({
  /** USD per UTC day. */
  daily_usd: z.nullish(z.number().check(z.nonnegative())),
  /** USD per UTC calendar month. */
  monthly_usd: z.nullish(z.number().check(z.nonnegative())),
  /** Tokens (prompt + completion) per minute. */
  tpm: z.nullish(z.number().check(z.int(), z.nonnegative())),
  /** LLM requests per minute. */
  rpm: z.nullish(z.number().check(z.int(), z.nonnegative())),
});

/**
 * Spend limits of one key, agent or role; each absent one is unlimited. zod/mini: the usage
 * function's bodies need nothing of the classic API, and it stays out of that bundle.
 *
 * Made on first use, not at module load: built eagerly it was the largest allocation of the
 * usage bundle's start-up (91 KiB of young generation in Node, ~60 of it its own, the rest zod's
 * first use of its classes, which the next schema built at load now pays), and that start-up left
 * a new isolate's first request to pay a scavenge. The usage function calls this getter (a closure
 * at load); `budgetLimitsSchema` wraps the same schema for everything else (the gateway config's
 * schema, the CLI, the OpenAPI document) and, unused, drops out of the bundle: its `z.lazy` is
 * marked pure, as esbuild does not see zod's own annotation on it (a `z.lazy` instance is ~5 KiB).
 */
export const budgetLimits = lazy(() => z.strictObject(budgetLimitsShape()));
export const budgetLimitsSchema = /* @__PURE__ */ z.lazy(budgetLimits);
export type BudgetLimits = z.infer<typeof budgetLimitsSchema>;
