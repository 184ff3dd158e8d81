import * as z from 'zod';
import { categorySchema } from '../config/category.ts';

/**
 * config/mcp.yaml's schema, built on first use: only config compilation and the MAS_MCP_YAML
 * override parse with it, so isolates do not build it at start.
 */
function build() {
  const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/);
  /** Server names become tool-name prefixes (`<server>__<tool>`): no `__` inside, so no collisions. */
  const serverNameSchema = z
    .string()
    .regex(/^[a-z][a-z0-9-]*(_[a-z0-9-]+)*$/, 'lower case letters, digits, - and single _ (no "__")')
    .max(48);

  /** How a tool is classified until the action registry (config/actions.yaml) covers MCP tools. */
  const toolEntry = z
    .object({
      category: categorySchema,
      /** Shown to approvers. */
      risk: z.string().max(500).optional(),
    })
    .strict();

  const mcpServerSchema = z
    .object({
      /** The upstream's MCP endpoint. */
      url: z.url(),
      /** When set and non-empty, its value replaces `url` (deployments, tests). */
      url_env: envName.optional(),
      /** `streamable_http` (the current transport) or `sse` (the 2024-11-05 HTTP+SSE transport). */
      transport: z.enum(['streamable_http', 'sse']).default('streamable_http'),
      /** Injected on every upstream request; the agent never sees it. */
      credential: z
        .object({ env: envName, header: z.string().regex(/^[a-z0-9-]+$/), scheme: z.string().optional() })
        .strict()
        .optional(),
      /** Each upstream exchange (connect, list, call) is abandoned after this long. */
      timeout_ms: z.number().int().positive().max(300_000).default(30_000),
      /** Tools exposed (upstream names); absent = every tool the server lists. */
      allow: z.array(z.string().min(1)).min(1).optional(),
      /** Category per upstream tool name; a tool not listed is `unclassified` (approval always). */
      tools: z.record(z.string().min(1), toolEntry).default({}),
      /** Reported on /ready (never failing it: an MCP server is an optional dependency). */
      ready_check: z.boolean().default(true),
    })
    .strict();

  const mcpConfigSchema = z
    .object({
      /** How long tools/call waits for a human decision before answering "pending, retry". */
      wait_seconds: z.number().int().min(0).max(120).default(25),
      /**
       * For this long after an approved call ran, the same call again is answered "already
       * executed" (a lost response, concurrent retries); later it asks for a new approval.
       */
      replay_window_seconds: z.number().int().min(0).max(86_400).default(60),
      /** How long a server's tools/list is reused before it is asked again. */
      tools_cache_seconds: z.number().int().min(0).max(3600).default(60),
      servers: z.record(serverNameSchema, mcpServerSchema).default({}),
    })
    .strict();
  return { serverNameSchema, mcpServerSchema, mcpConfigSchema };
}

let built: ReturnType<typeof build> | undefined;
const schemas = () => {
  built ??= build();
  return built;
};
type Schemas = ReturnType<typeof build>;

export const mcpConfigSchema = z.lazy(() => schemas().mcpConfigSchema);

export type McpServerConfig = z.infer<Schemas['mcpServerSchema']>;
export type McpConfig = z.infer<Schemas['mcpConfigSchema']>;
