import * as z from 'zod';

const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/);
const prefix = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'a path prefix like /data/');

export const integrationSchema = z
  .object({
    /** Default base URL; `base_url_env` overrides it when set. The caller never chooses the host. */
    base_url: z.url(),
    base_url_env: envName.optional(),
    /** Injected on every call; the caller never sees it. */
    credential: z
      .object({ env: envName, header: z.string().regex(/^[a-z0-9-]+$/), scheme: z.string().optional() })
      .strict()
      .optional(),
    methods: z.array(method).min(1),
    /** Allowed path prefixes, after normalisation. */
    paths: z.array(prefix).min(1),
    timeout_ms: z.number().int().positive().max(120_000).default(10_000),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(10),
        base_ms: z.number().int().positive(),
        max_ms: z.number().int().positive(),
        deadline_ms: z.number().int().positive(),
      })
      .strict()
      .default({ attempts: 3, base_ms: 200, max_ms: 2000, deadline_ms: 20_000 }),
    max_request_bytes: z.number().int().positive().default(1_048_576),
    max_response_bytes: z.number().int().positive().default(10_485_760),
  })
  .strict();

export const integrationsConfigSchema = z
  .object({ integrations: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), integrationSchema) })
  .strict();

export type IntegrationConfig = z.infer<typeof integrationSchema>;
export type IntegrationsConfig = z.infer<typeof integrationsConfigSchema>;
