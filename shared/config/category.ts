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
export const categorySchema = z.enum(CATEGORIES);
export type Category = z.infer<typeof categorySchema>;
