import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { TestProject } from 'vitest/node';
import { type Stack, startStack } from '../local/stack.ts';
import { startAnthropicFake } from './fakes/anthropic-fake.ts';
import { startGeminiFake } from './fakes/gemini-fake.ts';
import { startIntegrationsFake } from './fakes/integrations-fake.ts';
import { listenOnLoopback } from './fakes/listen.ts';
import { startMcpFake } from './fakes/mcp-fake.ts';
import { startOpenAIFake } from './fakes/openai-fake.ts';
import { startQdrantFake } from './fakes/qdrant-fake.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Settings for workers under test: DATABASE_URL, UPSTASH_REDIS_REST_*. */
    stackSettings: Record<string, string>;
    stackInfo: { embeddedPostgres: boolean; redis: 'ok' | 'off'; appRole: boolean };
    /** The migrations' owner: for tests that set up or tamper with rows the app may not touch. */
    adminDatabaseUrl: string;
    /** A DATABASE_URL with pgvector (embedded PGlite when the main Postgres is not). */
    pgvectorDatabaseUrl: string;
    /** http://127.0.0.1:<port> of a listener that accepts connections and never answers. */
    blackholeUrl: string;
    /**
     * A webhook receiver: POST anything to `/hook/<name>`, GET `/hook/<name>` returns what came.
     * `/redirect/<name>` records too, then answers 307 to `/hook/<name>`.
     */
    webhookSinkUrl: string;
    /** The OpenAI protocol fake (test/fakes/openai-fake.ts). */
    openaiFakeUrl: string;
    /** The Gemini protocol fake (test/fakes/gemini-fake.ts). */
    geminiFakeUrl: string;
    /** The Anthropic Messages API fake (test/fakes/anthropic-fake.ts). */
    anthropicFakeUrl: string;
    /** The Qdrant REST fake (test/fakes/qdrant-fake.ts). */
    qdrantFakeUrl: string;
    /** MINDEX / NatureOS / Website fake (test/fakes/integrations-fake.ts). */
    integrationsFakeUrl: string;
    /** A real MCP server built with the SDK (test/fakes/mcp-fake.ts). */
    mcpFakeUrl: string;
  }
}

let stack: Stack | undefined;

/**
 * Brings up the same stack as `npm start`, on free ports: DATABASE_URL / REDIS_URL when set (CI
 * points them at the machine's PostgreSQL and Redis), else embedded PGlite and a spawned
 * redis-server. Tests get the settings through `inject('stackSettings')`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  stack = await startStack({
    env: process.env,
    migrationsDir: 'migrations',
    noPushgateway: true,
    pgvectorDatabase: true,
    // The functions run as the application role, as in production, so a missing GRANT fails.
    // One fixed password: the role is cluster-wide and concurrent runs share it.
    appRolePassword: 'mas-app-test-password',
    log: (service, message) => {
      if (process.env.MAS_TEST_VERBOSE) console.log(`[stack] ${service} ${message}`);
    },
  });
  const blackhole = await startBlackhole();
  project.provide('blackholeUrl', `http://127.0.0.1:${blackhole.port}`);
  const sink = await startWebhookSink();
  const openaiFake = await startOpenAIFake();
  project.provide('openaiFakeUrl', openaiFake.url);
  const geminiFake = await startGeminiFake();
  project.provide('geminiFakeUrl', geminiFake.url);
  const anthropicFake = await startAnthropicFake();
  project.provide('anthropicFakeUrl', anthropicFake.url);
  const qdrantFake = await startQdrantFake();
  project.provide('qdrantFakeUrl', qdrantFake.url);
  const integrationsFake = await startIntegrationsFake();
  project.provide('integrationsFakeUrl', integrationsFake.url);
  const mcpFake = await startMcpFake();
  project.provide('mcpFakeUrl', mcpFake.url);
  project.provide('webhookSinkUrl', sink.url);
  project.provide('stackSettings', stack.settings);
  project.provide('pgvectorDatabaseUrl', stack.pgvectorDatabaseUrl!);
  project.provide('adminDatabaseUrl', stack.databaseUrl);
  project.provide('stackInfo', {
    embeddedPostgres: stack.embeddedPostgres,
    redis: stack.redis,
    appRole: stack.appRole,
  });
  return async () => {
    await blackhole.close();
    await sink.close();
    await openaiFake.close();
    await geminiFake.close();
    await anthropicFake.close();
    await qdrantFake.close();
    await integrationsFake.close();
    await mcpFake.close();
    await stack?.stop();
  };
}

/** Accepts TCP connections and never writes a byte: a dependency that hangs. */
async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Records webhook deliveries per path, so workerd tests can read back what was sent. */
async function startWebhookSink(): Promise<{ url: string; close(): Promise<void> }> {
  const received = new Map<string, Array<{ headers: Record<string, unknown>; body: string }>>();
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (req.method === 'POST') {
        const list = received.get(path) ?? [];
        list.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        received.set(path, list);
        // `/redirect/<name>` answers 307 to `/hook/<name>`: a client that follows it re-POSTs there.
        if (path.startsWith('/redirect/')) {
          res.writeHead(307, { location: path.replace('/redirect/', '/hook/') }).end();
          return;
        }
        res.writeHead(204).end();
      } else {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(received.get(path) ?? []));
      }
    });
  });
  return listenOnLoopback(server);
}
