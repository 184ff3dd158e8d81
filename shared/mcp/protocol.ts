import * as z from 'zod/mini';
import { lazy } from '../http/lazy.ts';

/**
 * The parts of MCP (https://modelcontextprotocol.io/specification) the gateway reads: protocol
 * revisions, and minimal schemas of the params it serves and the results it relays. Schemas are
 * loose (unknown members kept): the gateway passes tools, resources and prompts through as the
 * upstream described them, and checks only what it uses itself.
 *
 * Built on first use, in groups: an isolate builds none at start, and a bundle that never calls
 * a group (the ready function: initialize only) does not carry it (`@__PURE__`: esbuild drops an
 * unused group whole).
 */

/** Newest first. The revisions the official SDK (1.32) speaks; what we offer and accept. */
export const SUPPORTED_PROTOCOL_VERSIONS = [
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
  '2024-11-05',
  '2024-10-07',
] as const;
export const LATEST_PROTOCOL_VERSION: string = SUPPORTED_PROTOCOL_VERSIONS[0];

export const isSupportedVersion = (version: unknown): boolean =>
  typeof version === 'string' && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version);

const looseRecord = () => z.record(z.string(), z.unknown());

/** The initialize answer of an upstream server (the client's handshake). */
export const initializeResultSchema = /* @__PURE__ */ lazy(() =>
  z.looseObject({
    protocolVersion: z.string(),
    capabilities: z.looseObject({
      tools: z.optional(looseRecord()),
      resources: z.optional(looseRecord()),
      prompts: z.optional(looseRecord()),
    }),
    serverInfo: z.optional(z.looseObject({ name: z.string(), version: z.optional(z.string()) })),
  }),
);
export type ServerCapabilities = z.infer<ReturnType<typeof initializeResultSchema>>['capabilities'];

/** The results the gateway relays from upstream servers. */
export const resultSchemas = /* @__PURE__ */ lazy(() => {
  /** A tool as an upstream lists it: its input schema validates every call (validate.ts). */
  const tool = z.looseObject({
    name: z.string(),
    description: z.optional(z.string()),
    inputSchema: z.looseObject({
      type: z.literal('object'),
      properties: z.optional(looseRecord()),
      required: z.optional(z.array(z.string())),
      $schema: z.optional(z.string()),
    }),
    annotations: z.optional(looseRecord()),
  });
  const named = z.looseObject({ name: z.string() });
  return {
    tool,
    listTools: z.looseObject({ tools: z.array(tool), nextCursor: z.optional(z.string()) }),
    callTool: z.looseObject({
      // The SDK reads an absent `content` as empty (servers of older revisions may leave it out).
      content: z._default(z.array(z.looseObject({ type: z.string() })), []),
      isError: z.optional(z.boolean()),
      structuredContent: z.optional(looseRecord()),
    }),
    listResources: z.looseObject({
      resources: z.array(z.looseObject({ uri: z.string(), name: z.string() })),
    }),
    listResourceTemplates: z.looseObject({
      resourceTemplates: z.array(z.looseObject({ uriTemplate: z.string(), name: z.string() })),
    }),
    readResource: z.looseObject({ contents: z.array(z.looseObject({ uri: z.string() })) }),
    listPrompts: z.looseObject({ prompts: z.array(named) }),
    getPrompt: z.looseObject({
      messages: z.array(z.looseObject({ role: z.string(), content: looseRecord() })),
    }),
  };
});
type Results = ReturnType<typeof resultSchemas>;
export type Tool = z.infer<Results['tool']>;
export type CallToolResult = z.infer<Results['callTool']>;

/** The params of the requests the gateway serves. */
export const paramSchemas = /* @__PURE__ */ lazy(() => {
  /** tools/list, resources/list, resources/templates/list, prompts/list. */
  const list = z.looseObject({ cursor: z.optional(z.string()) });
  return {
    initialize: z.looseObject({
      protocolVersion: z.string(),
      capabilities: looseRecord(),
      clientInfo: z.looseObject({ name: z.string(), version: z.string() }),
    }),
    list,
    callTool: z.looseObject({ name: z.string(), arguments: z.optional(looseRecord()) }),
    readResource: z.looseObject({ uri: z.string() }),
    getPrompt: z.looseObject({ name: z.string(), arguments: z.optional(z.record(z.string(), z.string())) }),
  };
});
