import type { Env } from '../env.ts';
import type { CheckResult } from '../ready/checks.ts';
import { mcpConfig } from './config.ts';
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
          await withUpstream(server, async () => undefined, { signal: AbortSignal.timeout(timeoutMs) });
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
