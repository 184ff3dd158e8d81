import * as z from 'zod';
// The categories in a module of their own: the ledger and the registry check them at run time,
// and importing this file would build the whole policy schema in every isolate that loads them.
import { categorySchema } from './category.ts';

export { type Category, categorySchema } from './category.ts';

/**
 * `never`, `always`, or only when the action's amount exceeds a threshold (the amount is read at
 * the registry entry's `amount_path`, `amount` by default; an unreadable amount counts as over).
 */
const approvalRule = z.union([
  z.literal('never'),
  z.literal('always'),
  z.object({ amount_over: z.number().nonnegative() }).strict(),
]);

const approvers = z
  .object({
    roles: z.array(z.enum(['approver', 'admin'])).default([]),
    principals: z.array(z.string().min(1)).default([]),
  })
  .strict();

const gate = z
  .object({
    approval: approvalRule,
    /** Distinct approvers needed; overrides the default. */
    quorum: z.number().int().min(1).max(10).optional(),
    approvers: approvers.optional(),
    expires_in_seconds: z
      .number()
      .int()
      .min(10)
      .max(7 * 24 * 3600)
      .optional(),
    /** A still-pending approval is announced again (webhook, `escalated: true`) after this long. */
    escalate_after_seconds: z
      .number()
      .int()
      .min(10)
      .max(7 * 24 * 3600)
      .optional(),
    /** Extra approvers who may decide once the approval has escalated. */
    escalate_to: approvers.optional(),
  })
  .strict();

/** `config/policies.yaml`: which actions need a human, who decides, how many, how long. */
export const policySchema = z
  .object({
    defaults: z
      .object({
        approvers,
        quorum: z.number().int().min(1).max(10).default(1),
        expires_in_seconds: z
          .number()
          .int()
          .min(10)
          .max(7 * 24 * 3600)
          .default(900),
      })
      .strict(),
    categories: z.partialRecord(categorySchema, gate).default({}),
    /** The rule for a category not listed (default: needs approval). */
    unknown_category: gate.default({ approval: 'always' }),
    /**
     * The rule for a tool or action type that config/actions.yaml does not classify (default:
     * needs approval), so a new tool is gated until someone classifies it. A floor: when a rule
     * or category is stricter, that one decides.
     */
    unknown_tool: gate.default({ approval: 'always' }),
    rules: z
      .array(
        gate.extend({
          match: z
            .object({
              action_type: z.array(z.string()).optional(),
              tool_name: z.array(z.string()).optional(),
              agent_id: z.array(z.string()).optional(),
              category: z.array(z.string()).optional(),
            })
            .strict(),
        }),
      )
      .default([]),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;
export type PolicyGate = z.infer<typeof gate>;
