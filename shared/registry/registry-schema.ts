import * as z from 'zod';
import { categorySchema } from '../config/category.ts';

const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const prefix = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'a path prefix like /data/');

/**
 * One classified action or tool. The category is the server's: a caller may ask for a stricter
 * one, never a looser one. `input_schema` is a JSON Schema (2020-12) the inputs must satisfy;
 * `npm run config:check` compiles each one strictly and fails on an invalid schema.
 */
export const registryEntrySchema = z
  .object({
    category: categorySchema,
    /** JSON Schema (draft 2020-12) for `inputs`; checked at build time, enforced per request. */
    input_schema: z.record(z.string(), z.unknown()).optional(),
    /** Dotted path of the amount in `inputs` for `{amount_over: N}` gates (default `amount`). */
    amount_path: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'a dotted path like payment.amount')
      .optional(),
    /** Shown to approvers next to the request: what can go wrong. */
    risk: z.string().min(1).max(500).optional(),
  })
  .strict();

/** A proxy write route of one integration: method(s) and path prefix, first match wins. */
export const registryRouteSchema = registryEntrySchema.extend({
  methods: z.array(method).min(1),
  prefix,
});

/** Tool names: `bank.pay`, `shell.exec`, `mcp:files/write_file` ... */
const toolName = z.string().regex(/^[A-Za-z0-9._:/@-]{1,256}$/, 'a tool name of A-Z a-z 0-9 . _ : / @ -');

/** `config/actions.yaml`: how the server classifies every way an agent acts. */
export const actionRegistrySchema = z
  .object({
    /** By `tool_name` (an action naming a tool is classified by it, and by its action type). */
    tools: z.record(toolName, registryEntrySchema).default({}),
    /** By `action_type`. */
    actions: z.record(toolName, registryEntrySchema).default({}),
    /** Integration proxy writes, by integration name (config/integrations.yaml). */
    integrations: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.array(registryRouteSchema)).default({}),
  })
  .strict();

export type RegistryEntry = z.infer<typeof registryEntrySchema>;
export type RegistryRoute = z.infer<typeof registryRouteSchema>;
export type ActionRegistry = z.infer<typeof actionRegistrySchema>;
