import { Hono } from 'hono';
import * as z from 'zod';
import { AppError } from '../../shared/errors/index.ts';
import { cachePut, lookupCache } from '../../shared/governance/response-cache.ts';
import { beginSpend, estimatePromptTokens, setCostHeader } from '../../shared/governance/spend.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { providerFor, rawChunkText } from '../../shared/llm/providers/index.ts';

import type { ChatChunk, ChatRequest } from '../../shared/llm/providers/types.ts';
import { listModels, resolveTarget, retrieveModel } from '../../shared/llm/registry.ts';
import { createRouteContext, setRouteHeaders } from '../../shared/llm/route-context.ts';
import { countTokens, routeCall } from '../../shared/llm/router.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { redactString } from '../../shared/redact/index.ts';
import { responsesRoutes } from './responses.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/chat/*', auth({ roles: ['agent', 'admin'] }), rateLimit());
routes.use('/v1/models', auth(), rateLimit());
routes.use('/v1/models/*', auth(), rateLimit());

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
routes.get('/v1/models/:id', (c) => c.json(retrieveModel(c.env, c.req.param('id'))));

/**
 * OpenAI endpoints this gateway does not serve: a 404 that says so and names what to use,
 * rather than a bare route_not_found that reads like a wrong base URL.
 */
const UNSUPPORTED: Array<[string, string]> = [
  [
    '/v1/moderations',
    'Call the moderation model through /v1/chat/completions or /v1/responses with a classifying prompt, or call OpenAI directly.',
  ],
  ['/v1/images/*', 'Image generation is not routed by this gateway; call the image provider directly.'],
  [
    '/v1/audio/*',
    'Speech and transcription are not routed by this gateway; call the audio provider directly.',
  ],
  [
    '/v1/files',
    'Send content inline (text or data-URL image parts) in /v1/chat/completions or /v1/responses.',
  ],
  [
    '/v1/files/*',
    'Send content inline (text or data-URL image parts) in /v1/chat/completions or /v1/responses.',
  ],
  [
    '/v1/batches',
    'Send the requests one by one to /v1/chat/completions or /v1/responses (the router retries and falls back per call).',
  ],
  [
    '/v1/batches/*',
    'Send the requests one by one to /v1/chat/completions or /v1/responses (the router retries and falls back per call).',
  ],
  ['/v1/realtime', 'Use streaming (`stream: true`) on /v1/responses or /v1/chat/completions.'],
  ['/v1/realtime/*', 'Use streaming (`stream: true`) on /v1/responses or /v1/chat/completions.'],
];
for (const [path, alternative] of UNSUPPORTED) {
  routes.all(path, (c) => {
    const endpoint = new URL(c.req.url).pathname;
    throw new AppError(
      404,
      'unsupported_endpoint',
      `${endpoint} is not supported by this gateway. ${alternative}`,
    );
  });
}

routes.post('/v1/chat/completions', async (c) => {
  const body = (await readJson(c, chatRequestSchema, maxBodyBytes('chat'))) as ChatRequest;
  const target = resolveTarget(c.env, body.model, c.req.header('x-mas-role'), 'chat');
  const ctx = createRouteContext(c, target, body.stream === true);

  const { model: _model, ...request } = body;

  const { hit, plan: cache } = await lookupCache(c, 'chat', body, target);
  if (hit) return hit;
  const spend = await beginSpend(c, {
    endpoint: 'chat',
    target,
    promptTokens: estimatePromptTokens([body.messages, body.tools]),
    maxOutputTokens: (body.max_completion_tokens ?? body.max_tokens) as number | undefined,
  });

  if (body.stream !== true) {
    const routed = await routeCall(ctx, (model, signal) =>
      providerFor(model).chat(model.model.upstream, request as ChatRequest, {
        signal,
        headers: ctx.headers(),
      }),
    ).catch((err) => {
      spend.release();
      throw err;
    });
    countTokens(routed.model, routed.result.usage);
    setRouteHeaders(c, routed);
    setCostHeader(c, spend.settle(routed.model, routed.result.usage));
    if (cache)
      cachePut(c, cache, {
        body: routed.result,
        provider: routed.model.providerId,
        model: routed.model.model.id,
      });
    return c.json(routed.result);
  }

  const routed = await routeCall(ctx, (model, signal) =>
    providerFor(model).chatStream(model.model.upstream, request as ChatRequest, {
      signal,
      headers: ctx.headers(),
    }),
  ).catch((err) => {
    spend.release();
    throw err;
  });
  setRouteHeaders(c, routed);
  // Usage is always requested upstream (tokens are counted on every stream), but the usage-only
  // chunk (`choices: []`) reaches the caller only if it asked, as OpenAI does.
  const wantsUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const encoder = new TextEncoder();
  const log = c.get('log');
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let last: ChatChunk | undefined;
      let usage: unknown;
      try {
        for await (const chunk of routed.result) {
          last = chunk;
          if (chunk.usage) usage = chunk.usage;
          if (!wantsUsage && isUsageOnly(chunk)) continue;
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
        // Priced from the stream's final usage; a stream cut before it still settles what it reported.
        spend.settle(routed.model, usage);
        controller.close();
      }
    },
  });
  c.header('content-type', 'text/event-stream; charset=utf-8');
  c.header('cache-control', 'no-cache');
  return c.body(stream);
});

function isUsageOnly(chunk: ChatChunk): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null;
}

routes.route('/', responsesRoutes);

export const chatFunction = defineFunction('chat', routes);
