import * as z from 'zod/mini';
import { CATEGORIES } from '../config/category.ts';
import { lazy } from '../http/lazy.ts';

/**
 * config/mcp.yaml's schema, built on first use: only config compilation and the MAS_MCP_YAML
 * override parse with it, so isolates do not build it at start. zod/mini: the ready function
 * carries it (for the override) and needs nothing of classic zod's chainable API.
 */
function build() {
  const envName = z.string().check(z.regex(/^[A-Z][A-Z0-9_]*$/));
  /** Server names become tool-name prefixes (`<server>__<tool>`): no `__` inside, so no collisions. */
  const serverNameSchema = z
    .string()
    .check(
      z.regex(/^[a-z][a-z0-9-]*(_[a-z0-9-]+)*$/, 'lower case letters, digits, - and single _ (no "__")'),
      z.maxLength(48),
    );

  /**
   * How a tool is classified until the action registry (config/actions.yaml) covers MCP tools.
   * Its own enum of the categories, built here: importing categorySchema would build that at
   * start-up in every bundle that carries this file (ready's only zod schema at load otherwise).
   */
  const toolEntry = z.strictObject({
    category: z.enum(CATEGORIES),
    /** Shown to approvers. */
    risk: z.optional(z.string().check(z.maxLength(500))),
  });

  const mcpServerSchema = z.strictObject({
    /** The upstream's MCP endpoint. */
    url: z.url(),
    /** When set and non-empty, its value replaces `url` (deployments, tests). */
    url_env: z.optional(envName),
    /** `streamable_http` (the current transport) or `sse` (the 2024-11-05 HTTP+SSE transport). */
    transport: z._default(z.enum(['streamable_http', 'sse']), 'streamable_http'),
    /** Injected on every upstream request; the agent never sees it. */
    credential: z.optional(
      z.strictObject({
        env: envName,
        header: z.string().check(z.regex(/^[a-z0-9-]+$/)),
        scheme: z.optional(z.string()),
      }),
    ),
    /** Each upstream exchange (connect, list, call) is abandoned after this long. */
    timeout_ms: z._default(z.number().check(z.int(), z.positive(), z.lte(300_000)), 30_000),
    /** Tools exposed (upstream names); absent = every tool the server lists. */
    allow: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
    /** Category per upstream tool name; a tool not listed is `unclassified` (approval always). */
    tools: z._default(z.record(z.string().check(z.minLength(1)), toolEntry), {}),
    /** Reported on /ready (never failing it: an MCP server is an optional dependency). */
    ready_check: z._default(z.boolean(), true),
  });

  const mcpConfigSchema = z.strictObject({
    /** How long tools/call waits for a human decision before answering "pending, retry". */
    wait_seconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(120)), 25),
    /**
     * For this long after an approved call ran, the same call again is answered "already
     * executed" (a lost response, concurrent retries); later it asks for a new approval.
     */
    replay_window_seconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(86_400)), 60),
    /** How long a server's tools/list is reused before it is asked again. */
    tools_cache_seconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(3600)), 60),
    servers: z._default(z.record(serverNameSchema, mcpServerSchema), {}),
  });
  return { serverNameSchema, mcpServerSchema, mcpConfigSchema };
}

const schemas = lazy(build);
type Schemas = ReturnType<typeof build>;

export const mcpConfigSchema = z.lazy(() => schemas().mcpConfigSchema);

/**
 * The schema `mcpConfigSchema` wraps, built on first call: for config.ts's run-time parse, so that
 * a bundle whose only parse is that one builds no `z.lazy` (nor any schema) at isolate start.
 * Parses as `mcpConfigSchema` does (mcp-schema.test.ts compares them on mutated configs).
 */
export const builtMcpConfigSchema = () => schemas().mcpConfigSchema;

export type McpServerConfig = z.infer<Schemas['mcpServerSchema']>;
export type McpConfig = z.infer<Schemas['mcpConfigSchema']>;
