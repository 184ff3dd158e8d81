import { Hono } from 'hono';
import { z } from 'zod';
import { getSettings } from '../../shared/env.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { CircuitBreaker } from '../../shared/llm/circuit-breaker.ts';
import { providerFor } from '../../shared/llm/providers/index.ts';
import type { ChatChunk, ChatRequest } from '../../shared/llm/providers/types.ts';
import { effectiveRegistry, listModels, resolveTarget } from '../../shared/llm/registry.ts';
import { countTokens, type RouteContext, routeCall } from '../../shared/llm/router.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { outgoingTraceHeaders } from '../../shared/middleware/correlation/index.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { redactString } from '../../shared/redact/index.ts';
import { getRedis } from '../../shared/redis/client.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/chat/*', auth({ roles: ['agent', 'admin'] }), rateLimit());
routes.use('/v1/models', auth(), rateLimit());

/** What we check ourselves; everything else (tools, response_format...) goes upstream as sent. */
const chatRequestSchema = z
  .object({
    model: z.string().max(200).optional(),
    messages: z.array(z.looseObject({ role: z.string() })).min(1),
    stream: z.boolean().optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
    max_completion_tokens: z.number().int().positive().max(1_000_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    n: z.number().int().min(1).max(16).optional(),
  })
  .loose();

routes.get('/v1/models', (c) => c.json(listModels(c.env)));

routes.post('/v1/chat/completions', async (c) => {
  const body = (await readJson(c, chatRequestSchema, maxBodyBytes('chat'))) as ChatRequest;
  const target = resolveTarget(c.env, body.model, c.req.header('x-mas-role'), 'chat');
  const registry = effectiveRegistry(c.env);
  const trace = c.get('trace');
  const ctx: RouteContext = {
    target,
    policy: registry.policy,
    breaker: new CircuitBreaker(registry.policy.circuit_breaker, getRedis(getSettings(c.env))),
    log: c.get('log'),
    signal: c.req.raw.signal,
    headers: () => outgoingTraceHeaders(trace),
    streaming: body.stream === true,
  };
  const { model: _model, ...request } = body;

  if (body.stream !== true) {
    const routed = await routeCall(ctx, (model, signal) =>
      providerFor(model).chat(model.model.upstream, request as ChatRequest, {
        signal,
        headers: ctx.headers(),
      }),
    );
    countTokens(routed.model, routed.result.usage);
    setRouteHeaders(c, routed.model.providerId, routed.model.model.id, routed.attempts);
    return c.json(routed.result);
  }

  const routed = await routeCall(ctx, (model, signal) =>
    providerFor(model).chatStream(model.model.upstream, request as ChatRequest, {
      signal,
      headers: ctx.headers(),
    }),
  );
  setRouteHeaders(c, routed.model.providerId, routed.model.model.id, routed.attempts);
  const encoder = new TextEncoder();
  const log = c.get('log');
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let last: ChatChunk | undefined;
      try {
        for await (const chunk of routed.result) {
          last = chunk;
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`));
        }
        countTokens(routed.model, last?.usage);
        controller.enqueue(encoder.encode('data: [DONE]\n\n'));
      } catch (err) {
        // After the first byte there is no fallback: end with an error event, never a silent cut.
        const message = redactString(err instanceof Error ? err.message : 'upstream stream failed').value;
        log.warn('llm stream failed mid-way', {
          model: routed.model.model.id,
          error: err instanceof Error ? err : String(err),
        });
        const error = {
          error: {
            message: `Upstream stream failed: ${message}`,
            type: 'upstream_error',
            code: 'stream_interrupted',
            param: null,
          },
        };
        controller.enqueue(encoder.encode(`event: error\ndata: ${JSON.stringify(error)}\n\n`));
      } finally {
        controller.close();
      }
    },
  });
  c.header('content-type', 'text/event-stream; charset=utf-8');
  c.header('cache-control', 'no-cache');
  return c.body(stream);
});

function setRouteHeaders(
  c: { header(name: string, value: string): void },
  provider: string,
  model: string,
  attempts: number,
) {
  c.header('x-mas-provider', provider);
  c.header('x-mas-model', model);
  c.header('x-mas-attempts', String(attempts));
}

export const chatFunction = defineFunction('chat', routes);
