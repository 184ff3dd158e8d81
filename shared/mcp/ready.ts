import type { Env } from '../env.ts';
import type { CheckResult } from '../ready/checks.ts';
import { mcpConfig, type ResolvedServer } from './config.ts';
import { withUpstream } from './upstream.ts';

/**
 * One advisory check per configured MCP server (`ready_check: true`): an initialize handshake
 * within `timeoutMs`. Reported as `mcp:<server>`; never required, so an MCP server being down
 * never takes the gateway out of rotation (tools/call answers a clean error instead).
 */
export async function mcpReadyChecks(env: Env, timeoutMs: number): Promise<Record<string, CheckResult>> {
  let servers: ReturnType<typeof mcpConfig>['servers'];
  try {
    servers = mcpConfig(env).servers;
  } catch (err) {
    // A bad MAS_MCP_YAML: say so here (tools/call would fail the same way), not as a 500.
    return { mcp: { status: 'fail', error: (err as Error).message, required: false, backend: 'mcp' } };
  }
  const entries = await Promise.all(
    [...servers.values()]
      .filter((server) => server.config.ready_check)
      .map(async (server): Promise<[string, CheckResult]> => {
        const started = Date.now();
        try {
          await initializeHandshake(server, Math.min(timeoutMs, server.config.timeout_ms));
          return [
            `mcp:${server.name}`,
            { status: 'ok', latency_ms: Date.now() - started, required: false, backend: 'mcp' },
          ];
        } catch (err) {
          return [
            `mcp:${server.name}`,
            {
              status: 'fail',
              latency_ms: Date.now() - started,
              error: (err as Error).message,
              required: false,
              backend: 'mcp',
            },
          ];
        }
      }),
  );
  return Object.fromEntries(entries);
}

/**
 * `initialize` to the server and its answer checked (a revision we speak), under one deadline
 * that also ends the connection, through the same client as tools/call, so a check fails in the
 * same words as a call would. Nothing follows the answer (no initialized notification): the
 * check opens no session it would then have to use.
 */
export async function initializeHandshake(server: ResolvedServer, timeoutMs: number): Promise<void> {
  await withUpstream(server, async () => undefined, { timeoutMs, initialized: false });
}
