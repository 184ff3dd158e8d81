import { bundledMcp } from '../config/compiled.ts';
import { parseOverride } from '../config/override.ts';
import type { Env } from '../env.ts';
import { builtMcpConfigSchema, type McpConfig, type McpServerConfig } from './mcp-schema.ts';

export { bundledMcp };

/** Separates the server from the tool in gateway tool names; server names never contain it. */
export const NAME_SEPARATOR = '__';

/** A configured server with its URL and credential resolved from the env. */
export interface ResolvedServer {
  name: string;
  config: McpServerConfig;
  url: URL;
  /** Headers injected upstream (the credential); never shown to the agent or logged. */
  headers: Record<string, string>;
}

const byEnv = new WeakMap<object, { config: McpConfig; servers: Map<string, ResolvedServer> }>();

/**
 * The effective MCP config for an env: `MAS_MCP_YAML` (a whole file, same schema, as JSON in a
 * Worker: shared/config/override.ts) or the bundled config/mcp.yaml. Built once per env object:
 * bindings are fixed per isolate.
 */
export function mcpConfig(env: Env): { config: McpConfig; servers: Map<string, ResolvedServer> } {
  let entry = byEnv.get(env);
  if (!entry) {
    const override = typeof env.MAS_MCP_YAML === 'string' ? env.MAS_MCP_YAML.trim() : '';
    let config = bundledMcp;
    if (override) {
      config = parseOverride('MAS_MCP_YAML', override, builtMcpConfigSchema());
    }
    const servers = new Map<string, ResolvedServer>();
    for (const [name, server] of Object.entries(config.servers))
      servers.set(name, resolve(name, server, env));
    entry = { config, servers };
    byEnv.set(env, entry);
  }
  return entry;
}

function resolve(name: string, config: McpServerConfig, env: Env): ResolvedServer {
  const override = config.url_env ? env[config.url_env] : undefined;
  const url = new URL(typeof override === 'string' && override.trim() ? override.trim() : config.url);
  const headers: Record<string, string> = {};
  const secret = config.credential ? env[config.credential.env] : undefined;
  if (config.credential && typeof secret === 'string' && secret) {
    headers[config.credential.header] = config.credential.scheme
      ? `${config.credential.scheme} ${secret}`
      : secret;
  }
  return { name, config, url, headers };
}

/** `<server>__<tool>` → its parts; undefined when the name is not one of ours. */
export function splitToolName(name: string): { server: string; tool: string } | undefined {
  const at = name.indexOf(NAME_SEPARATOR);
  if (at <= 0) return undefined;
  return { server: name.slice(0, at), tool: name.slice(at + NAME_SEPARATOR.length) };
}

export const gatewayToolName = (server: string, tool: string) => `${server}${NAME_SEPARATOR}${tool}`;

/** The tool's name in the action registry, the policy's `tool_name` rules and the ledger. */
export const registryToolName = (server: string, tool: string) => `mcp:${server}/${tool}`;

/** Whether the server's allow-list (default: everything) exposes this upstream tool. */
export function isExposed(server: ResolvedServer, tool: string): boolean {
  return !server.config.allow || server.config.allow.includes(tool);
}
