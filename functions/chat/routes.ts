import { Hono } from 'hono';
import * as z from 'zod';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { providerFor, rawChunkText } from '../../shared/llm/providers/index.ts';

import type { ChatChunk, ChatRequest } from '../../shared/llm/providers/types.ts';
import { listModels, resolveTarget } from '../../shared/llm/registry.ts';
import { createRouteContext, setRouteHeaders } from '../../shared/llm/route-context.ts';
import { countTokens, routeCall } from '../../shared/llm/router.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { redactString } from '../../shared/redact/index.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/chat/*', auth({ roles: ['agent', 'admin'] }), rateLimit());
routes.use('/v1/models', auth(), rateLimit());

/** OpenAI's message roles: any other is the caller's error, not something to send upstream. */
const messageRole = z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/** What we check ourselves; everything else (tools, response_format...) goes upstream as sent. */
export const chatRequestSchema = z
  .object({
    model: z.string().max(200).optional(),
    messages: z.array(z.looseObject({ role: messageRole })).min(1),
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
  const ctx = createRouteContext(c, target, body.stream === true);

  const { model: _model, ...request } = body;

  if (body.stream !== true) {
    const routed = await routeCall(ctx, (model, signal) =>
      providerFor(model).chat(model.model.upstream, request as ChatRequest, {
        signal,
        headers: ctx.headers(),
      }),
    );
    countTokens(routed.model, routed.result.usage);
    setRouteHeaders(c, routed);
    return c.json(routed.result);
  }

  const routed = await routeCall(ctx, (model, signal) =>
    providerFor(model).chatStream(model.model.upstream, request as ChatRequest, {
      signal,
      headers: ctx.headers(),
    }),
  );
  setRouteHeaders(c, routed);
  const encoder = new TextEncoder();
  const log = c.get('log');
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let last: ChatChunk | undefined;
      try {
        for await (const chunk of routed.result) {
          last = chunk;
          // OpenAI-compatible chunks go out as they came: no second serialisation per chunk.
          controller.enqueue(encoder.encode(`data: ${rawChunkText(chunk) ?? JSON.stringify(chunk)}\n\n`));
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

export const chatFunction = defineFunction('chat', routes);
