import { VERSION } from '../version.ts';
import { type CallContext, callTool } from './calls.ts';
import type { McpClient } from './client.ts';
import { gatewayToolName, isExposed, type ResolvedServer, splitToolName } from './config.ts';
import { ErrorCode, RpcError } from './jsonrpc.ts';
import { paramSchemas, resultSchemas, type Tool } from './protocol.ts';
import { McpServer, method } from './server.ts';
import { UpstreamError, upstreamTools, withUpstream } from './upstream.ts';

export interface GatewayScope {
  /** The servers this endpoint fronts: every configured one (/mcp) or one (/mcp/{server}). */
  servers: ResolvedServer[];
  /** /mcp/{server}: names as the upstream has them; /mcp: `<server>__<name>`. */
  single: boolean;
  toolsCacheSeconds: number;
}

const INSTRUCTIONS =
  'Tools of the upstream MCP servers behind the mas gateway. Every call is audited; risky ones wait ' +
  'for a human. A result that says "Approval required" names the approval: retry exactly the same ' +
  'call to wait for the decision again; once approved, that retry executes it, once.';

/**
 * The gateway's own MCP server for one request (stateless: built per request, nothing kept
 * between requests, so it runs on Workers without Durable Objects). Every method forwards to the
 * upstreams through the MCP client (shared/mcp/client.ts).
 */
export function gatewayServer(ctx: CallContext, scope: GatewayScope): McpServer {
  const publicName = (upstream: ResolvedServer, name: string) =>
    scope.single ? name : gatewayToolName(upstream.name, name);
  const exchange = { signal: ctx.signal };
  const schemas = paramSchemas();
  const results = resultSchemas();

  /** Runs `fn` on every server; on /mcp one failing server is left out (and logged), not fatal. */
  async function everyServer<T>(fn: (upstream: ResolvedServer) => Promise<T[]>): Promise<T[]> {
    const results = await Promise.allSettled(scope.servers.map(fn));
    const out: T[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') out.push(...r.value);
      else if (scope.single) throw asRpcError(r.reason);
      else
        ctx.log.warn('mcp server left out of the listing', {
          server: scope.servers[i]?.name,
          error: r.reason,
        });
    });
    return out;
  }

  /** A listing of every server that offers `capability`, names made public. */
  const listing = <T extends { name: string }>(
    capability: 'resources' | 'prompts',
    list: (client: McpClient) => Promise<T[]>,
  ) =>
    everyServer((upstream) =>
      withUpstream(
        upstream,
        async (client) => {
          if (!client.getServerCapabilities()[capability]) return [];
          return (await list(client)).map((item) => ({ ...item, name: publicName(upstream, item.name) }));
        },
        exchange,
      ),
    );

  /** The upstream and its tool for a public tool name, or an InvalidParams error. */
  async function resolveTool(name: string): Promise<{ upstream: ResolvedServer; tool: Tool }> {
    const parts = scope.single ? { server: scope.servers[0]!.name, tool: name } : splitToolName(name);
    const upstream = parts && scope.servers.find((s) => s.name === parts.server);
    if (!parts || !upstream || !isExposed(upstream, parts.tool)) throw unknownTool(name);
    const tools = await upstreamTools(upstream, scope.toolsCacheSeconds, exchange).catch((err) => {
      throw asRpcError(err);
    });
    const tool = tools.find((t) => t.name === parts.tool);
    if (!tool) throw unknownTool(name);
    return { upstream, tool };
  }

  const methods = {
    'tools/list': method(schemas.list, async () => ({
      tools: await everyServer(async (upstream) =>
        (await upstreamTools(upstream, scope.toolsCacheSeconds, exchange))
          .filter((t) => isExposed(upstream, t.name))
          .map((t) => ({ ...t, name: publicName(upstream, t.name) })),
      ),
    })),

    'tools/call': method(schemas.callTool, async (params) => {
      const { upstream, tool } = await resolveTool(params.name);
      try {
        return await callTool(ctx, upstream, tool, params.arguments ?? {});
      } catch (err) {
        if (err instanceof RpcError) throw err;
        const status = (err as { status?: number }).status;
        // Refused by our own checks (the registry's input schema, the agent binding): the caller's fault.
        if (status && status >= 400 && status < 500 && err instanceof Error) {
          throw new RpcError(ErrorCode.InvalidParams, err.message, { code: (err as { code?: string }).code });
        }
        // Our own failure (the database, most likely): logged here, as onError logs a 5xx.
        ctx.log.error('mcp tool call failed', { error: err, server: upstream.name, tool: tool.name });
        throw new RpcError(
          ErrorCode.InternalError,
          status && status < 600 && err instanceof Error
            ? err.message
            : 'The MCP gateway failed to handle this call.',
        );
      }
    }),

    // Resources and prompts: read-only passthrough of what the upstreams offer.
    'resources/list': method(schemas.list, async (params) => ({
      resources: await listing(
        'resources',
        async (client) =>
          (await client.request('resources/list', scope.single ? params : {}, results.listResources))
            .resources,
      ),
    })),

    'resources/templates/list': method(schemas.list, async (params) => ({
      resourceTemplates: await listing(
        'resources',
        async (client) =>
          (
            await client.request(
              'resources/templates/list',
              scope.single ? params : {},
              results.listResourceTemplates,
            )
          ).resourceTemplates,
      ),
    })),

    'resources/read': method(schemas.readResource, async (params) => {
      // URIs belong to their servers: on /mcp the first server that can read it answers.
      let last: unknown;
      for (const upstream of scope.servers) {
        try {
          return await withUpstream(
            upstream,
            (client) => {
              if (!client.getServerCapabilities().resources)
                throw new RpcError(
                  ErrorCode.InvalidParams,
                  `MCP server '${upstream.name}' has no resources.`,
                );
              return client.request('resources/read', params, results.readResource);
            },
            exchange,
          );
        } catch (err) {
          last = err;
        }
      }
      if (scope.single && last) throw asRpcError(last);
      throw new RpcError(
        ErrorCode.InvalidParams,
        `No MCP server behind this endpoint has the resource ${params.uri.slice(0, 500)}.`,
      );
    }),

    'prompts/list': method(schemas.list, async (params) => ({
      prompts: await listing(
        'prompts',
        async (client) =>
          (await client.request('prompts/list', scope.single ? params : {}, results.listPrompts)).prompts,
      ),
    })),

    'prompts/get': method(schemas.getPrompt, async (params) => {
      const parts = scope.single
        ? { server: scope.servers[0]!.name, tool: params.name }
        : splitToolName(params.name);
      const upstream = parts && scope.servers.find((s) => s.name === parts.server);
      if (!parts || !upstream)
        throw new RpcError(ErrorCode.InvalidParams, `Unknown prompt: ${params.name.slice(0, 200)}`);
      return withUpstream(
        upstream,
        (client) => client.request('prompts/get', { ...params, name: parts.tool }, results.getPrompt),
        exchange,
      ).catch((err) => {
        throw asRpcError(err);
      });
    }),
  };

  return new McpServer({
    serverInfo: {
      name: scope.single ? `mas-gateway/${scope.servers[0]?.name}` : 'mas-gateway',
      version: VERSION,
    },
    capabilities: { tools: {}, resources: {}, prompts: {} },
    instructions: INSTRUCTIONS,
    methods,
    onUnexpected: (err, name) => ctx.log.error('mcp request failed', { error: err, method: name }),
  });
}

const unknownTool = (name: string) =>
  new RpcError(ErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 200)}`);

/** Upstream failures as JSON-RPC errors, in words safe for the agent (no URL, no credential). */
function asRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof UpstreamError) {
    if (err.kind === 'upstream_error' && err.upstreamCode !== undefined) {
      return new RpcError(err.upstreamCode, err.message);
    }
    return new RpcError(
      err.kind === 'timeout' ? ErrorCode.RequestTimeout : ErrorCode.InternalError,
      err.message,
      {
        server: err.server,
        kind: err.kind,
      },
    );
  }
  return new RpcError(ErrorCode.InternalError, 'The MCP gateway failed to handle this request.');
}
