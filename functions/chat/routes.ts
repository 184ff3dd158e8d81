import * as z from 'zod/mini';
import { AppError } from '../../shared/errors/index.ts';
import { cachePut, lookupCache } from '../../shared/governance/response-cache.ts';
import { beginSpend, estimatePromptTokens, setCostHeader } from '../../shared/governance/spend.ts';
import { defineFunction } from '../../shared/http/create-app.ts';
import { lazy } from '../../shared/http/lazy.ts';
import { providerFor, upstreamText } from '../../shared/llm/providers/index.ts';
import type { ChatChunk, ChatRequest, ChunkBytes, Usage } from '../../shared/llm/providers/types.ts';
import { listModels, resolveTarget, retrieveModel, roleHeaderFor } from '../../shared/llm/registry.ts';
import { createRouteContext, setRouteHeaders } from '../../shared/llm/route-context.ts';
import { countTokens, routeCall } from '../../shared/llm/router.ts';
import { guard } from '../../shared/middleware/guard.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { chatRoutes as routes } from './chat-routes.ts';
import { chunkBytesStream, chunkStream, wantsUsage } from './chunk-stream.ts';
// Imported for the routes they add to the one table (chat-routes.ts).
import './completions.ts';
import './responses.ts';

const JSON_TYPE = { 'content-type': 'application/json' };

routes.use('/v1/chat/*', guard({ roles: ['agent', 'admin'] }));
routes.use('/v1/models', guard());
routes.use('/v1/models/*', guard());

// zod/mini, as every schema of the chat function: classic zod stays out of its bundle. Built on
// first use (`lazy`: call it for the schema), not at module load (a new isolate's first request
// may be another); not `z.lazy`, whose instance is itself made at load (~2 KiB of young
// generation in Node).
/** What we check ourselves; everything else (tools, response_format...) goes upstream as sent. */
export const chatRequest = lazy(() => {
  /** OpenAI's message roles: any other is the caller's error, not something to send upstream. */
  const messageRole = z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
  return z.looseObject({
    model: z.optional(z.string().check(z.maxLength(200))),
    messages: z.array(z.looseObject({ role: messageRole })).check(z.minLength(1)),
    stream: z.optional(z.boolean()),
    max_tokens: z.optional(z.number().check(z.int(), z.positive(), z.lte(1_000_000))),
    max_completion_tokens: z.optional(z.number().check(z.int(), z.positive(), z.lte(1_000_000))),
    temperature: z.optional(z.number().check(z.gte(0), z.lte(2))),
    top_p: z.optional(z.number().check(z.gte(0), z.lte(1))),
    n: z.optional(z.number().check(z.int(), z.gte(1), z.lte(16))),
  });
});
/**
 * The same schema for the OpenAPI generator (local/openapi-operations.ts) (marked pure, so a bundle
 * where nothing reads it drops it, z.lazy instance and class).
 */
export const chatRequestSchema = /* @__PURE__ */ z.lazy(chatRequest);

routes.get('/v1/models', (c) => c.json(listModels(c.env)));
routes.get('/v1/models/:id', (c) => c.json(retrieveModel(c.env, c.req.param('id'))));

/**
 * OpenAI endpoints this gateway does not serve: a 404 that says so and names what to use,
 * rather than a bare route_not_found that reads like a wrong base URL.
 */
export const UNSUPPORTED_ENDPOINTS: Array<[string, string]> = [
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
for (const [path, alternative] of UNSUPPORTED_ENDPOINTS) {
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
  const body = (await readJson(c, chatRequest(), maxBodyBytes('chat'))) as ChatRequest;
  const target = resolveTarget(c.env, body.model, roleHeaderFor(c.req, body.model), 'chat');
  const ctx = createRouteContext(c, target, body.stream === true);

  const { model: _model, ...request } = body;

  const { hit, plan: cache } = await lookupCache(c, 'chat', body, target);
  if (hit) return hit;
  const spend = await beginSpend(c, {
    endpoint: 'chat',
    target,
    promptTokens: () => estimatePromptTokens([body.messages, body.tools]),
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
    // An OpenAI-type answer goes out as the upstream's own bytes (nothing in it is rewritten).
    const text = upstreamText(routed.result);
    return text === undefined ? c.json(routed.result) : c.body(text, 200, JSON_TYPE);
  }

  // OpenAI-type upstreams stream their own bytes through; the others are translated chunk by chunk.
  const routed = await routeCall(ctx, async (model, signal): Promise<Opened> => {
    const provider = providerFor(model);
    const options = { signal, headers: ctx.headers() };
    const upstream = model.model.upstream;
    return provider.chatStreamBytes
      ? { bytes: await provider.chatStreamBytes(upstream, request as ChatRequest, options) }
      : { chunks: await provider.chatStream(upstream, request as ChatRequest, options) };
  }).catch((err) => {
    spend.release();
    throw err;
  });
  setRouteHeaders(c, routed);
  const options = {
    wantsUsage: wantsUsage(body),
    model: routed.model.model.id,
    onEnd: (usage: Usage | null | undefined) => {
      routed.dispose();
      countTokens(routed.model, usage);
      // Priced from the stream's final usage; a stream cut before it still settles what it reported.
      spend.settle(routed.model, usage);
    },
    onStarted: routed.opened,
  };
  const { bytes, chunks } = routed.result;
  return bytes ? chunkBytesStream(c, bytes, options) : chunkStream(c, chunks!, options);
});

/** A stream once open: the upstream's bytes to forward, or chunks to write. */
type Opened = { bytes: ChunkBytes; chunks?: never } | { bytes?: never; chunks: AsyncIterable<ChatChunk> };

export const chatFunction = defineFunction('chat', routes);
