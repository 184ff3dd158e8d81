import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { deadline } from '../resilience/deadline.ts';
import { VERSION } from '../version.ts';
import { type CallContext, callTool } from './calls.ts';
import { gatewayToolName, isExposed, type ResolvedServer, splitToolName } from './config.ts';
import { UpstreamError, upstreamTools, withUpstream } from './upstream.ts';

export interface GatewayScope {
  /** The servers this endpoint fronts: every configured one (/mcp) or one (/mcp/{server}). */
  servers: ResolvedServer[];
  /** /mcp/{server}: names as the upstream has them; /mcp: `<server>__<name>`. */
  single: boolean;
  toolsCacheSeconds: number;
}

const validator = new CfWorkerJsonSchemaValidator();

const INSTRUCTIONS =
  'Tools of the upstream MCP servers behind the mas gateway. Every call is audited; risky ones wait ' +
  'for a human. A result that says "Approval required" names the approval: retry exactly the same ' +
  'call to wait for the decision again; once approved, that retry executes it, once.';

/**
 * The gateway's own MCP server for one request (stateless: built per request, nothing kept
 * between requests, so it runs on Workers without Durable Objects). Built on the SDK's `Server`;
 * every handler forwards to the upstreams with the SDK's `Client`.
 */
export function gatewayServer(ctx: CallContext, scope: GatewayScope): Server {
  const server = new Server(
    { name: scope.single ? `mas-gateway/${scope.servers[0]?.name}` : 'mas-gateway', version: VERSION },
    {
      capabilities: { tools: {}, resources: {}, prompts: {} },
      instructions: INSTRUCTIONS,
      jsonSchemaValidator: validator,
    },
  );
  const publicName = (upstream: ResolvedServer, name: string) =>
    scope.single ? name : gatewayToolName(upstream.name, name);
  const extra = () => ({ signal: ctx.signal });

  /** Runs `fn` on every server; on /mcp one failing server is left out (and logged), not fatal. */
  async function everyServer<T>(fn: (upstream: ResolvedServer) => Promise<T[]>): Promise<T[]> {
    const results = await Promise.allSettled(scope.servers.map(fn));
    const out: T[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') out.push(...r.value);
      else if (scope.single) throw asMcpError(r.reason);
      else
        ctx.log.warn('mcp server left out of the listing', {
          server: scope.servers[i]?.name,
          error: r.reason,
        });
    });
    return out;
  }

  /** The upstream and its tool for a public tool name, or an InvalidParams error. */
  async function resolveTool(name: string): Promise<{ upstream: ResolvedServer; tool: Tool }> {
    const parts = scope.single ? { server: scope.servers[0]!.name, tool: name } : splitToolName(name);
    const upstream = parts && scope.servers.find((s) => s.name === parts.server);
    if (!parts || !upstream || !isExposed(upstream, parts.tool)) throw unknownTool(name);
    const tools = await upstreamTools(upstream, scope.toolsCacheSeconds, extra()).catch((err) => {
      throw asMcpError(err);
    });
    const tool = tools.find((t) => t.name === parts.tool);
    if (!tool) throw unknownTool(name);
    return { upstream, tool };
  }

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: await everyServer(async (upstream) =>
      (await upstreamTools(upstream, scope.toolsCacheSeconds, extra()))
        .filter((t) => isExposed(upstream, t.name))
        .map((t) => ({ ...t, name: publicName(upstream, t.name) })),
    ),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, info) => {
    const { upstream, tool } = await resolveTool(request.params.name);
    // The caller leaving or the client cancelling ends the call; the link ends with it.
    const link = ctx.signal ? deadline(Number.POSITIVE_INFINITY, [ctx.signal, info.signal]) : undefined;
    try {
      return await callTool(
        { ...ctx, signal: link?.signal ?? info.signal },
        upstream,
        tool,
        request.params.arguments ?? {},
      );
    } catch (err) {
      if (err instanceof McpError) throw err;

      const status = (err as { status?: number }).status;
      // Refused by our own checks (the registry's input schema, the agent binding): the caller's fault.
      if (status && status >= 400 && status < 500 && err instanceof Error) {
        throw new McpError(ErrorCode.InvalidParams, err.message, { code: (err as { code?: string }).code });
      }
      // Our own failure (the database, most likely): logged here, as onError logs a 5xx.
      ctx.log.error('mcp tool call failed', { error: err, server: upstream.name, tool: tool.name });
      throw new McpError(
        ErrorCode.InternalError,
        status && status < 600 && err instanceof Error
          ? err.message
          : 'The MCP gateway failed to handle this call.',
      );
    } finally {
      link?.dispose();
    }
  });

  // Resources and prompts: read-only passthrough of what the upstreams offer.
  server.setRequestHandler(ListResourcesRequestSchema, async (request) => ({
    resources: await everyServer((upstream) =>
      withUpstream(
        upstream,
        async (client, options) => {
          if (!client.getServerCapabilities()?.resources) return [];
          const { resources } = await client.listResources(scope.single ? request.params : {}, options);
          return resources.map((r) => ({ ...r, name: publicName(upstream, r.name) }));
        },
        extra(),
      ),
    ),
  }));

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (request) => ({
    resourceTemplates: await everyServer((upstream) =>
      withUpstream(
        upstream,
        async (client, options) => {
          if (!client.getServerCapabilities()?.resources) return [];
          const { resourceTemplates } = await client.listResourceTemplates(
            scope.single ? request.params : {},
            options,
          );
          return resourceTemplates.map((r) => ({ ...r, name: publicName(upstream, r.name) }));
        },
        extra(),
      ),
    ),
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    // URIs belong to their servers: on /mcp the first server that can read it answers.
    let last: unknown;
    for (const upstream of scope.servers) {
      try {
        return await withUpstream(
          upstream,
          async (client, options) => {
            if (!client.getServerCapabilities()?.resources)
              throw new McpError(ErrorCode.InvalidParams, 'no resources');
            return client.readResource(request.params, options);
          },
          extra(),
        );
      } catch (err) {
        last = err;
      }
    }
    if (scope.single && last) throw asMcpError(last);
    throw new McpError(
      ErrorCode.InvalidParams,
      `No MCP server behind this endpoint has the resource ${request.params.uri}.`,
    );
  });

  server.setRequestHandler(ListPromptsRequestSchema, async (request) => ({
    prompts: await everyServer((upstream) =>
      withUpstream(
        upstream,
        async (client, options) => {
          if (!client.getServerCapabilities()?.prompts) return [];
          const { prompts } = await client.listPrompts(scope.single ? request.params : {}, options);
          return prompts.map((p) => ({ ...p, name: publicName(upstream, p.name) }));
        },
        extra(),
      ),
    ),
  }));

  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const parts = scope.single
      ? { server: scope.servers[0]!.name, tool: request.params.name }
      : splitToolName(request.params.name);
    const upstream = parts && scope.servers.find((s) => s.name === parts.server);
    if (!parts || !upstream)
      throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
    return withUpstream(
      upstream,
      (client, options) => client.getPrompt({ ...request.params, name: parts.tool }, options),
      extra(),
    ).catch((err) => {
      throw asMcpError(err);
    });
  });

  return server;
}

const unknownTool = (name: string) => new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);

/** Upstream failures as JSON-RPC errors, in words safe for the agent (no URL, no credential). */
function asMcpError(err: unknown): McpError {
  if (err instanceof McpError) return err;
  if (err instanceof UpstreamError) {
    if (err.kind === 'upstream_error' && err.upstreamCode !== undefined) {
      return new McpError(err.upstreamCode, err.message);
    }
    return new McpError(
      err.kind === 'timeout' ? ErrorCode.RequestTimeout : ErrorCode.InternalError,
      err.message,
      {
        server: err.server,
        kind: err.kind,
      },
    );
  }
  return new McpError(ErrorCode.InternalError, 'The MCP gateway failed to handle this request.');
}
