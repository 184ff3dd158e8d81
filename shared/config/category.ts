import * as z from 'zod/mini';

/** The action categories of config/policies.yaml and the action registry. */
export const categorySchema = z.enum([
  'read',
  'internal_write',
  'external_write',
  'financial',
  'destructive',
  'security',
]);
export type Category = z.infer<typeof categorySchema>;
