import * as z from 'zod/mini';
import { badRequest } from '../../shared/errors/index.ts';
import { beginSpend, estimatePromptTokens, setCostHeader } from '../../shared/governance/spend.ts';
import { lazy } from '../../shared/http/lazy.ts';
import {
  type CompletionRequest,
  chatToCompletion,
  chunkToCompletion,
  completionToChat,
} from '../../shared/llm/completions/translate.ts';
import { providerFor } from '../../shared/llm/providers/index.ts';
import type { ChatChunk, ChatCompletion, ChunkBytes, Usage } from '../../shared/llm/providers/types.ts';
import { type ResolvedModel, resolveTarget, roleHeaderFor } from '../../shared/llm/registry.ts';
import { createRouteContext, setRouteHeaders } from '../../shared/llm/route-context.ts';
import { countTokens, routeCall } from '../../shared/llm/router.ts';
import { guard } from '../../shared/middleware/guard.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { chatRoutes as completionsRoutes } from './chat-routes.ts';
import { chunkBytesStream, chunkStream, wantsUsage } from './chunk-stream.ts';

/**
 * Legacy Completions. OpenAI and OpenAI-compatible upstreams get the request as sent on their
 * own `/completions` (prompt arrays, token prompts, suffix, echo, logprobs: whatever they take);
 * Gemini gets each prompt as one user turn through chat. What that cannot carry (token prompts,
 * suffix, several prompts streamed) is a 400 when only Gemini is left to try. Its routes go into
 * the chat function's one table (chat-routes.ts).
 */
completionsRoutes.use('/v1/completions', guard({ roles: ['agent', 'admin'] }));

// zod/mini, as every schema of the chat function: classic zod stays out of its bundle. Built on
// first use (`lazy`: call it for the schema), not at module load: an isolate that never serves
// this route never builds it (nor a `z.lazy` instance, itself made at load).
export const completionRequest = lazy(() => {
  const text = z.string().check(z.maxLength(1_000_000));
  const tokens = z.array(z.number().check(z.int(), z.nonnegative())).check(z.minLength(1));
  return z.looseObject({
    model: z.optional(z.string().check(z.maxLength(200))),
    prompt: z.union([
      text,
      z.array(text).check(z.minLength(1), z.maxLength(64)),
      tokens,
      z.array(tokens).check(z.minLength(1), z.maxLength(64)),
    ]),
    max_tokens: z.optional(z.number().check(z.int(), z.positive(), z.lte(1_000_000))),
    stop: z.nullish(z.union([z.string(), z.array(z.string()).check(z.maxLength(4))])),
    suffix: z.nullish(z.string()),
    stream: z.optional(z.boolean()),
    temperature: z.optional(z.number().check(z.gte(0), z.lte(2))),
    top_p: z.optional(z.number().check(z.gte(0), z.lte(1))),
    n: z.optional(z.number().check(z.int(), z.gte(1), z.lte(16))),
  });
});
/**
 * The same schema for the OpenAPI generator (local/openapi-operations.ts) (marked pure, so a bundle
 * where nothing reads it drops it, z.lazy instance and class).
 */
export const completionRequestSchema = /* @__PURE__ */ z.lazy(completionRequest);

/** Only OpenAI-type upstreams have `/completions`; Gemini and Anthropic models go through chat. */
const forwards = (model: ResolvedModel) =>
  model.provider.type === 'openai' || model.provider.type === 'openai_compatible';

/** Why this request cannot go through chat, or undefined when it can. */
function untranslatable(body: CompletionRequest): { message: string; param: string } | undefined {
  const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
  if (prompts.some((p) => typeof p !== 'string')) {
    return { message: 'Token-id prompts need an OpenAI or OpenAI-compatible model.', param: 'prompt' };
  }
  if (body.suffix) return { message: 'suffix needs an OpenAI or OpenAI-compatible model.', param: 'suffix' };
  if (body.stream && prompts.length > 1) {
    return {
      message: 'Streaming several prompts needs an OpenAI or OpenAI-compatible model.',
      param: 'prompt',
    };
  }
  return undefined;
}

completionsRoutes.post('/v1/completions', async (c) => {
  const body = (await readJson(c, completionRequest(), maxBodyBytes('chat'))) as CompletionRequest & {
    model?: string;
  };
  let target = resolveTarget(c.env, body.model, roleHeaderFor(c.req, body.model), 'chat');
  const refusal = untranslatable(body);
  if (refusal) {
    const chain = target.chain.filter(forwards);
    if (chain.length === 0) throw badRequest(refusal.message, refusal.param, 'unsupported_for_model');
    target = { ...target, chain };
  }
  const streaming = body.stream === true;
  const ctx = createRouteContext(c, target, streaming);
  const spend = await beginSpend(c, {
    endpoint: 'completions',
    target,
    promptTokens: () => estimatePromptTokens([body.prompt, body.suffix]),
    maxOutputTokens: body.max_tokens,
  });
  const released = (err: unknown) => {
    spend.release();
    throw err;
  };
  const { model: _model, ...request } = body;
  const prompts = (Array.isArray(request.prompt) ? request.prompt : [request.prompt]) as string[];

  if (!streaming) {
    const routed = await routeCall(ctx, async (model, signal) => {
      const options = { signal, headers: ctx.headers() };
      const provider = providerFor(model);
      if (forwards(model) && provider.forward) {
        return (await provider.forward(
          '/completions',
          { ...request, model: model.model.upstream },
          options,
        )) as ChatCompletion;
      }
      const answers: ChatCompletion[] = [];
      for (const prompt of prompts) {
        answers.push(await provider.chat(model.model.upstream, completionToChat(request, prompt), options));
      }
      return chatToCompletion(answers, model.model.upstream) as ChatCompletion;
    }).catch(released);
    countTokens(routed.model, routed.result.usage as Usage | undefined);
    setRouteHeaders(c, routed);
    setCostHeader(c, spend.settle(routed.model, routed.result.usage));
    return c.json(routed.result);
  }

  const routed = await routeCall(ctx, async (model, signal): Promise<Opened> => {
    const options = { signal, headers: ctx.headers() };
    const provider = providerFor(model);
    if (forwards(model) && provider.forwardStreamBytes) {
      const upstream = {
        ...request,
        model: model.model.upstream,
        // Asked for on every stream so tokens are counted; the usage chunk is shown only if asked.
        stream_options: { ...((request.stream_options as object) ?? {}), include_usage: true },
      };
      // Forwarded as the upstream's own bytes.
      return { bytes: await provider.forwardStreamBytes('/completions', upstream, options) };
    }
    const chunks = await provider.chatStream(
      model.model.upstream,
      completionToChat(request, prompts[0]!),
      options,
    );
    return { chunks };
  }).catch(released);
  setRouteHeaders(c, routed);
  const id = `cmpl-${crypto.randomUUID().replaceAll('-', '')}`;
  const upstreamModel = routed.model.model.upstream;
  const options = {
    wantsUsage: wantsUsage(body),
    model: routed.model.model.id,
    onEnd: (usage: Usage | null | undefined) => {
      routed.dispose();
      countTokens(routed.model, usage);
      spend.settle(routed.model, usage);
    },
    onStarted: routed.opened,
  };
  const { bytes, chunks } = routed.result;
  if (bytes) return chunkBytesStream(c, bytes, options);
  return chunkStream(c, chunks!, {
    ...options,
    map: (chunk: ChatChunk) => chunkToCompletion(chunk, id, upstreamModel),
  });
});

/** A stream once open: the upstream's own completion chunks to forward, or chat chunks to translate. */
type Opened = { bytes: ChunkBytes; chunks?: never } | { bytes?: never; chunks: AsyncIterable<ChatChunk> };
