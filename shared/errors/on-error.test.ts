import { describe, expect, it } from 'vitest';
import type * as z from 'zod/mini';
import { budgetLimitsSchema } from '../config/budget-limits.ts';
import { usageQuerySchema } from '../governance/usage-query.ts';
import { toAppError } from './on-error.ts';

// This file loads no classic zod (which registers English on its first schema), as the usage
// bundle does not: the 400s of zod/mini schemas must still say what is wrong.
const badRequestOf = (schema: z.ZodMiniType, value: unknown) => {
  const parsed = schema.safeParse(value);
  expect(parsed.success).toBe(false);
  return toAppError(parsed.error, 'corr-1');
};

describe('400s from zod/mini schemas', () => {
  it('quote zod’s English messages and name the field', () => {
    const negative = badRequestOf(budgetLimitsSchema, { tpm: -1 });
    expect(negative).toMatchObject({ status: 400, code: 'invalid_request', param: 'tpm' });
    expect(negative.message).toBe("Invalid 'tpm': Too small: expected number to be >=0");
    expect(badRequestOf(budgetLimitsSchema, { rpm: 1.5 }).message).toBe(
      "Invalid 'rpm': Invalid input: expected int, received number",
    );
    expect(badRequestOf(budgetLimitsSchema, { tokens: 5 }).message).toBe(
      'Invalid body: Unrecognized key: "tokens"',
    );
    expect(badRequestOf(usageQuerySchema, { since: '1e400' }).message).toBe(
      "Invalid 'since': Invalid ISO datetime",
    );
  });
});
