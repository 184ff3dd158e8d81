import type { Context, Hono } from 'hono';
import { HonoBase } from 'hono/hono-base';
import { TrieRouter } from 'hono/router/trie-router';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as z from 'zod/mini';
import {
  agentIdField,
  agentNameField,
  recordAction,
  requestContext,
  updateActionStatus,
} from '../../shared/audit/actions.ts';
import { sealAfterWrites } from '../../shared/audit/ledger-seal.ts';
import { unstorableJson } from '../../shared/audit/storable.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError, notFound } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { IntegrationError } from '../../shared/integrations/client.ts';
import { redeemProxyReceipt, requestSummary } from '../../shared/integrations/gate.ts';
import { guardPath, guardQuery } from '../../shared/integrations/path-guard.ts';
import { clientFor, integrationNamed } from '../../shared/integrations/registry.ts';
import { boundedBody } from '../../shared/integrations/response-limit.ts';
import { integrationRequestDuration, integrationRequestsTotal } from '../../shared/metrics/registry.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { outgoingTraceHeaders } from '../../shared/middleware/correlation/index.ts';
import { readBounded } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { classifyIntegrationWrite } from '../../shared/registry/index.ts';

const routes: Hono<AppEnv> = new HonoBase<AppEnv>({ router: new TrieRouter() });

routes.use(
  '/v1/integrations/*',
  auth({ roles: ['agent', 'admin'] }),
  rateLimit(),
  sealAfterWrites({ always: true }),
);

/** Caller headers passed on; everything else (auth, cookies, hop-by-hop, x-mas-*) is dropped. */
const FORWARD = [
  'accept',
  'accept-language',
  'content-type',
  'content-language',
  'if-match',
  'if-none-match',
  'if-modified-since',
];
/** Upstream headers passed back: never cookies, never where the upstream lives. */
const RETURN = [
  'content-type',
  'content-language',
  'etag',
  'last-modified',
  'cache-control',
  'retry-after',
  'x-request-id',
];
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

routes.all('/v1/integrations/:name/*', async (c) => {
  const name = c.req.param('name');
  const config = integrationNamed(name);
  if (!config) throw notFound(`No integration named '${name}'.`, 'integration_not_found');
  const method = c.req.method.toUpperCase();
  if (!config.methods.includes(method as never)) {
    throw new AppError(403, 'method_not_allowed', `${method} is not allowed on ${name}.`);
  }
  const url = new URL(c.req.url);
  const path = guardPath(url.pathname.slice(`/v1/integrations/${name}`.length), config.paths);
  const query = guardQuery(url.search);
  const body = READS.has(method) ? null : await readBounded(c.req.raw.body, config.max_request_bytes);
  const settings = getSettings(c.env);
  const principal = c.get('principal');
  const trace = c.get('trace');
  const write = !READS.has(method);

  let actionId: string | undefined;
  let redeemed = false;
  if (write) {
    if (!settings.ACTION_AUDIT_ENABLED) {
      throw new AppError(
        503,
        'audit_disabled',
        'Integration writes are audited, and audit writes are disabled (ACTION_AUDIT_ENABLED=false).',
      );
    }
    const summary = requestSummary({ integration: name, method, path, query, body: describeBody(c, body) });
    const receipt = c.req.header('x-mas-approval-receipt');
    const retryOf = c.req.header('x-mas-action-id');
    if (receipt && retryOf) {
      if (receipt.length > 200) {
        throw new AppError(400, 'invalid_request', 'x-mas-approval-receipt is not a receipt.', {
          param: 'x-mas-approval-receipt',
        });
      }
      if (!/^[0-9a-f-]{36}$/i.test(retryOf)) {
        throw new AppError(400, 'invalid_request', 'x-mas-action-id must be an action id (uuid).', {
          param: 'x-mas-action-id',
        });
      }
      await withPostgres(settings, (client) =>
        redeemProxyReceipt(client, {
          actionId: retryOf,
          receipt,
          summary,
          principal: principal.id,
          secret: settings.APPROVAL_SECRET,
        }),
      );
      actionId = retryOf;
      redeemed = true;
    } else {
      // Bounded like their body counterparts of POST /v1/audit/actions, and bound to the key.
      const agentId = header(c, 'x-mas-agent-id', agentIdField);
      const agentName = header(c, 'x-mas-agent-name', agentNameField);
      const recorded = await withPostgres(settings, (client) =>
        recordAction(
          client,
          {
            agent_id: agentId,
            agent_name: agentName ?? principal.id,
            action_type: `integration.${name}.${method.toLowerCase()}`,
            tool_name: `integration:${name}`,
            inputs: summary,
          },
          requestContext(c),
          { classification: classifyIntegrationWrite(name, method, path), agentParam: 'x-mas-agent-id' },
        ),
      );
      actionId = recorded.action_id;
      if (recorded.approval) {
        return c.json(
          {
            status: 'pending_approval',
            action_id: recorded.action_id,
            approval: recorded.approval,
            retry_with: {
              'x-mas-action-id': recorded.action_id,
              'x-mas-approval-receipt': '<receipt from GET /v1/approvals/{id}>',
            },
          },
          202,
        );
      }
    }
  }

  const headers: Record<string, string> = outgoingTraceHeaders(trace);
  for (const h of FORWARD) {
    const v = c.req.header(h);
    if (v) headers[h] = v;
  }
  const started = Date.now();
  let status = 0;
  try {
    const { response } = await clientFor(name, config, c.env).request(method, `${path}${query}`, {
      headers,
      body,
      signal: c.req.raw.signal,
      idempotencyKey: c.req.header('idempotency-key'),
    });
    status = response.status;
    if (status >= 500) {
      await response.body?.cancel();
      throw new AppError(502, 'integration_error', `${name} answered ${status}.`);
    }
    const { body: answer, streamed } = await boundedBody(name, response, config.max_response_bytes);
    const out = new Headers({ 'x-mas-integration': name });
    for (const h of RETURN) {
      const v = response.headers.get(h);
      if (v) out.set(h, v);
    }
    // Streamed (length unknown, not JSON): the cap is told up front, as a stream cut past it
    // can only end in an error.
    if (streamed) out.set('x-mas-max-response-bytes', String(config.max_response_bytes));
    // Through c.body, not `new Response`: hono merges in the headers middleware set before the
    // route (the rate limiter's x-ratelimit-*) only into a response it builds.
    // (null for a 204 or 304: hono passes it on as Response's null body.)
    return c.body(answer as ReadableStream | Uint8Array<ArrayBuffer>, {
      status: status as ContentfulStatusCode,
      headers: out,
    });
  } catch (err) {
    if (err instanceof IntegrationError) {
      const code =
        err.kind === 'timeout'
          ? 'integration_timeout'
          : err.kind === 'too_large'
            ? 'integration_response_too_large'
            : 'integration_unreachable';
      throw new AppError(err.kind === 'timeout' ? 504 : 502, code, err.message);
    }
    throw err;
  } finally {
    const labels = { integration: name, method };
    integrationRequestsTotal.inc({ ...labels, status: status ? String(status) : 'error' });
    integrationRequestDuration.observe(labels, (Date.now() - started) / 1000);
    if (actionId) {
      const outcome = status > 0 && status < 400 ? 'completed' : 'failed';
      const ctx = {
        principal,
        correlationId: trace.correlationId,
        traceId: trace.traceId,
        approvalsEnabled: settings.APPROVAL_REQUIRED,
      };
      const id = actionId;
      await withPostgres(settings, (client) =>
        updateActionStatus(
          client,
          id,
          { status: outcome, outputs: { status: status || null, duration_ms: Date.now() - started } },
          ctx,
          { receiptRedeemed: redeemed },
        ),
      ).catch((err: Error) =>
        c.get('log').error('integration outcome not recorded', { error: err, action_id: id }),
      );
    }
  }
});

/** An optional header checked like the body field it stands for: 400 naming the header. */
function header(c: Context<AppEnv>, name: string, schema: z.ZodMiniType<string>): string | undefined {
  const value = c.req.header(name);
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new AppError(400, 'invalid_request', `${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      param: name,
    });
  }
  return parsed.data;
}

/** The body as the audit sees it: JSON when it parses (redacted later), else its size. */
function describeBody(c: Context<AppEnv>, body: Uint8Array | null): unknown {
  if (!body || body.byteLength === 0) return null;
  if (/json/i.test(c.req.header('content-type') ?? '') && body.byteLength <= 65_536) {
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
      // What Postgres cannot store (NUL, lone surrogates) or the redactor cannot read whole is
      // audited by its size, as a non-JSON body is.
      if (unstorableJson(parsed) === null) return parsed;
    } catch {
      // fall through
    }
  }
  return { bytes: body.byteLength };
}

export const proxyFunction = defineFunction('proxy', routes);
