import * as z from 'zod/mini';

/** The action categories of config/policies.yaml and the action registry, least to most strict. */
export const CATEGORIES = [
  'read',
  'internal_write',
  'external_write',
  'financial',
  'destructive',
  'security',
] as const;
// Pure-annotated, so a bundle that never parses a category (ready) drops it instead of building
// it at start-up.
export const categorySchema = /* @__PURE__ */ z.enum(CATEGORIES);
export type Category = z.infer<typeof categorySchema>;
