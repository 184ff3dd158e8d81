import type { Context, Hono } from 'hono';
import { HonoBase } from 'hono/hono-base';
import { TrieRouter } from 'hono/router/trie-router';
import { notifierFor } from '../../shared/approvals/index.ts';
import { sealAfterWrites } from '../../shared/audit/ledger-seal.ts';
import { getSettings } from '../../shared/env.ts';
import { notFound } from '../../shared/errors/index.ts';
import { runInBackground } from '../../shared/http/background.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { mcpConfig } from '../../shared/mcp/config.ts';
import { type GatewayScope, gatewayServer } from '../../shared/mcp/gateway.ts';
import { handleStreamableHttpPost } from '../../shared/mcp/http-server.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { maxBodyBytes } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes: Hono<AppEnv> = new HonoBase<AppEnv>({ router: new TrieRouter() });

// Tool calls append to the ledger: wake its sealer once answered.
for (const path of ['/mcp', '/mcp/*'])
  routes.use(path, auth({ roles: ['agent', 'admin'] }), rateLimit(), sealAfterWrites());

/**
 * Stateless Streamable HTTP (shared/mcp/http-server.ts): every POST carries its whole exchange and
 * is answered in its own response, so there is no session to resume (GET) or end (DELETE). The
 * spec lets a server answer both 405.
 */
const noSessions = (c: Context<AppEnv>) =>
  c.json(
    {
      jsonrpc: '2.0',
      error: { code: -32000, message: 'This MCP endpoint is stateless: send requests with POST.' },
      id: null,
    },
    405,
    { allow: 'POST' },
  );

routes.on(['GET', 'DELETE'], ['/mcp', '/mcp/:server'], noSessions);

routes.post('/mcp', (c) => {
  const { config, servers } = mcpConfig(c.env);
  return serve(c, {
    servers: [...servers.values()],
    single: false,
    toolsCacheSeconds: config.tools_cache_seconds,
  });
});

routes.post('/mcp/:server', (c) => {
  const name = c.req.param('server');
  const { config, servers } = mcpConfig(c.env);
  const server = servers.get(name);
  if (!server) throw notFound(`No MCP server named '${name}'.`, 'mcp_server_not_found');
  return serve(c, { servers: [server], single: true, toolsCacheSeconds: config.tools_cache_seconds });
});

function serve(c: Context<AppEnv>, scope: GatewayScope): Promise<Response> {
  const settings = getSettings(c.env);
  const { config } = mcpConfig(c.env);
  const server = gatewayServer(
    {
      settings,
      principal: c.get('principal'),
      trace: c.get('trace'),
      log: c.get('log'),
      waitSeconds: config.wait_seconds,
      replayWindowSeconds: config.replay_window_seconds,
      signal: c.req.raw.signal,
      background: (work) => runInBackground(c, work),
      notifier: notifierFor(c),
    },
    scope,
  );
  return handleStreamableHttpPost(c.req.raw, server, { maxBodyBytes: maxBodyBytes('mcp') });
}

export const mcpFunction = defineFunction('mcp', routes);
