import type { Context } from 'hono';
import * as z from 'zod/mini';
import { getSettings } from '../../shared/env.ts';
import { AppError, badRequest } from '../../shared/errors/index.ts';
import { beginSpend, estimatePromptTokens, setCostHeader } from '../../shared/governance/spend.ts';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { lazy } from '../../shared/http/lazy.ts';
import { providerFor, rawChunkText } from '../../shared/llm/providers/index.ts';
import { batchesOf } from '../../shared/llm/providers/sse.ts';
import type { ChatRequest } from '../../shared/llm/providers/types.ts';
import type { ResolvedModel } from '../../shared/llm/registry.ts';
import { resolveTarget, roleHeaderFor } from '../../shared/llm/registry.ts';
import { canStore, deleteResponse, loadResponse, saveResponse } from '../../shared/llm/responses/store.ts';
import { ChatToResponseEvents, isTerminalEvent } from '../../shared/llm/responses/stream.ts';
import {
  continuation,
  fromChatCompletion,
  newId,
  normalizeInput,
  responseShell,
  toChatRequest,
  toChatUsage,
  upstreamItems,
} from '../../shared/llm/responses/translate.ts';
import type {
  InputItem,
  ResponseEvent,
  ResponseObject,
  ResponsesRequest,
} from '../../shared/llm/responses/types.ts';
import { createRouteContext, setRouteHeaders } from '../../shared/llm/route-context.ts';
import { countTokens, routeCall } from '../../shared/llm/router.ts';
import { guard } from '../../shared/middleware/guard.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { redactString } from '../../shared/redact/index.ts';
import { chatRoutes as responsesRoutes } from './chat-routes.ts';

/**
 * OpenAI's Responses API. `openai`-type models get the request natively on their `/responses`;
 * every other model (Gemini, OpenAI-compatible servers) gets it translated to Chat Completions
 * and back (shared/llm/responses/), streams included. Either way the router walks the chain as
 * for chat, and `store` (default true) keeps the response in Postgres for GET, input_items and
 * previous_response_id, under the principal that made it. Its routes go into the chat function's
 * one table (chat-routes.ts).
 */
responsesRoutes.use('/v1/responses', guard({ roles: ['agent', 'admin'] }));
responsesRoutes.use('/v1/responses/*', guard({ roles: ['agent', 'admin'] }));

// zod/mini, as every schema of the chat function: classic zod stays out of its bundle. Each is
// built on first use (`lazy`: call it for the schema), not at module load: a new isolate builds
// only the schemas of the routes it serves (and no `z.lazy` instance, itself made at load).
/** What we check ourselves; the rest goes to native upstreams as sent. */
const textOrParts = (v: unknown): boolean =>
  typeof v === 'string' ||
  (Array.isArray(v) && v.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p)));

export const responsesRequest = lazy(() => {
  const item = z.looseObject({ type: z.optional(z.string()), role: z.optional(z.string()) }).check(
    z.refine((i) => i.type !== undefined || i.role !== undefined, {
      message: 'each input item needs a type (or a role, for a message)',
    }),
    // What translation to chat reads as text or parts: a message's `content` and a tool output's
    // `output` are a string or a list of part objects (anything else was a TypeError, a 500).
    z.refine((i) => (i.type ?? 'message') !== 'message' || textOrParts(i.content), {
      message: "a message's content must be a string or an array of content parts",
      path: ['content'],
    }),
    z.refine((i) => i.type !== 'function_call_output' || textOrParts(i.output), {
      message: "a function_call_output's output must be a string or an array of content parts",
      path: ['output'],
    }),
  );
  return z
    .looseObject({
      model: z.optional(z.string().check(z.maxLength(200))),
      input: z.optional(z.union([z.string(), z.array(item).check(z.maxLength(10_000))])),
      instructions: z.nullish(z.string()),
      tools: z.optional(
        z
          .array(z.looseObject({ type: z.string(), name: z.optional(z.string().check(z.maxLength(128))) }))
          .check(z.maxLength(512)),
      ),
      tool_choice: z.optional(
        z.union([
          z.enum(['none', 'auto', 'required']),
          z.looseObject({ type: z.string(), name: z.optional(z.string()) }),
        ]),
      ),
      text: z.optional(
        z.looseObject({
          format: z.optional(
            z.looseObject({
              type: z.enum(['text', 'json_object', 'json_schema']),
              name: z.optional(z.string()),
            }),
          ),
        }),
      ),
      max_output_tokens: z.nullish(z.number().check(z.int(), z.positive(), z.lte(1_000_000))),
      temperature: z.nullish(z.number().check(z.gte(0), z.lte(2))),
      top_p: z.nullish(z.number().check(z.gte(0), z.lte(1))),
      metadata: z.nullish(z.record(z.string().check(z.maxLength(64)), z.string().check(z.maxLength(512)))),
      parallel_tool_calls: z.nullish(z.boolean()),
      reasoning: z.nullish(z.looseObject({ effort: z.nullish(z.string()), summary: z.nullish(z.string()) })),
      store: z.nullish(z.boolean()),
      previous_response_id: z.nullish(z.string().check(z.maxLength(200))),
      stream: z.nullish(z.boolean()),
      background: z.nullish(z.literal(false)),
    })
    .check(
      z.refine((r) => !r.metadata || Object.keys(r.metadata).length <= 16, {
        message: 'metadata holds at most 16 keys',
        path: ['metadata'],
      }),
    );
});
/**
 * The same schema for the OpenAPI generator (local/openapi-operations.ts) (marked pure, so a bundle
 * where nothing reads it drops it, z.lazy instance and class).
 */
export const responsesRequestSchema = /* @__PURE__ */ z.lazy(responsesRequest);

/**
 * zod rebuilds the objects it parses, and an own `__proto__` key (valid JSON) does not survive
 * that: refuse it in what is stored and shown back (metadata, input items) rather than keep less
 * than was sent.
 */
const storedAsSent = lazy(() =>
  z.unknown().check(
    z.superRefine((raw, ctx) => {
      const body = raw as { metadata?: unknown; input?: unknown } | null;
      const hasProto = (v: unknown) => v !== null && typeof v === 'object' && Object.hasOwn(v, '__proto__');
      if (hasProto(body?.metadata)) {
        ctx.addIssue({
          code: 'custom',
          path: ['metadata', '__proto__'],
          message: 'a key named __proto__ cannot be kept',
        });
      }
      if (Array.isArray(body?.input)) {
        body.input.forEach((item, i) => {
          if (hasProto(item))
            ctx.addIssue({
              code: 'custom',
              path: ['input', i, '__proto__'],
              message: 'a key named __proto__ cannot be kept',
            });
        });
      }
    }),
  ),
);

/** A create request: refused keys first, then the fields (one pipe, built on first use). */
const responsesBodySchema = lazy(() => z.pipe(storedAsSent(), responsesRequest()));

export const inputItemsQuery = lazy(() =>
  z.looseObject({
    limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 20),
    order: z._default(z.enum(['asc', 'desc']), 'desc'),
    after: z.optional(z.string().check(z.maxLength(200))),
    before: z.optional(z.string().check(z.maxLength(200))),
  }),
);
/**
 * The same schema for the OpenAPI generator (marked pure, so a bundle where nothing reads it drops
 * it, z.lazy instance and class).
 */
export const inputItemsQuerySchema = /* @__PURE__ */ z.lazy(inputItemsQuery);

const isNative = (model: ResolvedModel) => model.provider.type === 'openai';

responsesRoutes.post('/v1/responses', async (c) => {
  const body = (await readJson(c, responsesBodySchema(), maxBodyBytes('chat'))) as ResponsesRequest;
  const settings = getSettings(c.env);
  const principal = c.get('principal').id;
  const store = body.store !== false && canStore(settings);
  if (body.store !== false && !store) c.get('log').debug('responses: not stored (no DATABASE_URL)');

  const inputItems = normalizeInput(body.input);
  const history = body.previous_response_id
    ? continuation(await loadResponse(settings, principal, body.previous_response_id))
    : [];
  const items = [...history, ...inputItems];
  if (items.length === 0) throw badRequest('Give `input` (a string or items).', 'input');

  let target = resolveTarget(c.env, body.model, roleHeaderFor(c.req, body.model), 'chat');
  // Translate once, up front: what chat cannot carry is refused now (or left to native models).
  let chat: ChatRequest | undefined;
  try {
    chat = toChatRequest(body, upstreamItems(items));
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const native = target.chain.filter(isNative);
    if (native.length === 0) throw err;
    target = { ...target, chain: native };
  }
  const streaming = body.stream === true;
  const ctx = createRouteContext(c, target, streaming);
  // Budgets and pricing as for chat: reserved before the upstream call, settled from its usage.
  const spend = await beginSpend(c, {
    endpoint: 'responses',
    target,
    promptTokens: () => estimatePromptTokens([body.instructions, items, body.tools]),
    maxOutputTokens: body.max_output_tokens ?? undefined,
  });
  const released = (err: unknown) => {
    spend.release();
    throw err;
  };
  const createdAt = Math.floor(Date.now() / 1000);
  const patch = (response: ResponseObject): ResponseObject => ({
    ...response,
    store,
    previous_response_id: body.previous_response_id ?? null,
    metadata: body.metadata ?? {},
  });
  const nativeBody = (model: ResolvedModel) => {
    const { model: _m, stream: _s, previous_response_id: _p, store: _st, ...rest } = body;
    return { ...rest, model: model.model.upstream, input: upstreamItems(items), store: false };
  };
  const shellFor = (model: ResolvedModel) =>
    responseShell(body, { id: newId('resp'), model: model.model.upstream, createdAt, store });
  const persist = async (response: ResponseObject) => {
    if (!store || response.status === 'in_progress') return;
    await saveResponse(settings, principal, { response, inputItems, history });
  };

  if (!streaming) {
    const routed = await routeCall(ctx, async (model, signal) => {
      const options = { signal, headers: ctx.headers() };
      const provider = providerFor(model);
      if (isNative(model) && provider.forward) {
        return patch((await provider.forward('/responses', nativeBody(model), options)) as ResponseObject);
      }
      const completion = await provider.chat(model.model.upstream, chat!, options);
      return fromChatCompletion(completion, shellFor(model));
    }).catch(released);
    countTokens(routed.model, toChatUsage(routed.result.usage));
    setRouteHeaders(c, routed);
    setCostHeader(c, spend.settle(routed.model, routed.result.usage));
    await persist(routed.result);
    return c.json(routed.result);
  }

  const routed = await routeCall(ctx, async (model, signal) => {
    const options = { signal, headers: ctx.headers() };
    const provider = providerFor(model);
    if (isNative(model) && provider.forwardStream) {
      return nativeEvents(await provider.forwardStream('/responses', nativeBody(model), options), patch);
    }
    const chunks = await provider.chatStream(model.model.upstream, chat!, options);
    return translatedEvents(chunks, new ChatToResponseEvents(shellFor(model)));
  }).catch(released);
  // Counted now, as before the first byte: this writer has no hook for its first chunk.
  routed.opened();
  setRouteHeaders(c, routed);
  return sse(c, routed.result, routed.dispose, async (final) => {
    countTokens(routed.model, toChatUsage(final.usage));
    spend.settle(routed.model, final.usage);
    await persist(final);
  });
});

/**
 * A stream of events, each with its SSE text (raw where it can be forwarded byte for byte), in
 * batches: the events of one upstream read, written as one piece.
 */
type Outgoing = AsyncIterable<Array<{ event: ResponseEvent; text?: string }>> & {
  /** Events that end the stream after an upstream failure mid-way. */
  fail(code: string, message: string): ResponseEvent[];
};

/**
 * A native stream: events go out as OpenAI sent them, except the lifecycle events carrying the
 * response, whose `store` / `previous_response_id` / `metadata` say what this gateway did.
 */
function nativeEvents(
  upstream: AsyncIterable<Record<string, unknown>>,
  patch: (r: ResponseObject) => ResponseObject,
): Outgoing {
  let snapshot: ResponseObject | undefined;
  let seq = 0;
  return {
    async *[Symbol.asyncIterator]() {
      for await (const batch of batchesOf(upstream)) {
        yield batch.map((raw) => {
          const event = raw as ResponseEvent;
          seq = Math.max(seq, (event.sequence_number ?? seq) + 1);
          if (!event.response || typeof event.response !== 'object')
            return { event, text: rawChunkText(raw) };
          snapshot = patch(event.response as ResponseObject);
          return { event: { ...event, response: snapshot } };
        });
      }
    },
    fail(code, message) {
      const response = { ...(snapshot as ResponseObject), status: 'failed', error: { code, message } };
      return [{ type: 'response.failed', sequence_number: seq, response }];
    },
  };
}

function translatedEvents(
  chunks: AsyncIterable<Record<string, unknown>>,
  events: ChatToResponseEvents,
): Outgoing {
  return {
    async *[Symbol.asyncIterator]() {
      // The opening events go out with the first read's, or with the closing ones if no read
      // brought a chunk (a 200 whose body is only `[DONE]`): either way the stream starts at 0.
      let out = events.start();
      try {
        for await (const batch of batchesOf(chunks)) {
          for (const chunk of batch) out.push(...events.push(chunk));
          if (out.length) yield out.map((event) => ({ event }));
          out = [];
        }
      } catch (err) {
        // What this read built before the failure still goes out, ahead of `response.failed`.
        if (out.length) yield out.map((event) => ({ event }));
        throw err;
      }
      yield [...out, ...events.end()].map((event) => ({ event }));
    },
    fail: (code, message) => events.fail(code, message),
  };
}

/**
 * Writes the events as SSE (`event: <type>` and its JSON). An upstream failing after the first
 * byte ends the stream with `response.failed`, never a silent cut; the finished (or failed)
 * response is handed to `onEnd` to be counted and stored before the stream closes.
 */
function sse(
  c: Context<AppEnv>,
  events: Outgoing,
  release: () => void,
  onEnd: (final: ResponseObject) => Promise<void>,
): Response {
  const encoder = new TextEncoder();
  const log = c.get('log');
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      // A caller who left makes enqueue throw: stop reading, but still count and store.
      let gone = false;
      const write = (batch: Array<{ event: ResponseEvent; text?: string }>) => {
        if (gone) return;
        let piece = '';
        for (const { event, text } of batch)
          piece += `event: ${event.type}\ndata: ${text ?? JSON.stringify(event)}\n\n`;
        try {
          controller.enqueue(encoder.encode(piece));
        } catch {
          gone = true;
        }
      };
      let final: ResponseObject | undefined;
      try {
        for await (const batch of events) {
          write(batch);
          if (gone) break;
          for (const { event } of batch)
            if (isTerminalEvent(event.type)) final = event.response as ResponseObject;
        }
        if (!final) throw new Error('upstream stream ended before the response completed');
      } catch (err) {
        const message = redactString(err instanceof Error ? err.message : 'upstream stream failed').value;
        log.warn('responses stream failed mid-way', { error: err instanceof Error ? err : String(err) });
        const failed = events.fail('server_error', `Upstream stream failed: ${message}`);
        write(failed.map((event) => ({ event })));
        for (const event of failed) final = event.response as ResponseObject;
      }
      try {
        if (final) await onEnd(final);
      } catch (err) {
        log.error('responses: could not store the streamed response', { error: err as Error });
      } finally {
        release();
        if (!gone) controller.close();
      }
    },
  });
  c.header('content-type', 'text/event-stream; charset=utf-8');
  c.header('cache-control', 'no-cache');
  return c.body(stream);
}

responsesRoutes.get('/v1/responses/:id', async (c) => {
  const stored = await loadResponse(getSettings(c.env), c.get('principal').id, c.req.param('id'));
  return c.json(stored.response);
});

responsesRoutes.delete('/v1/responses/:id', async (c) => {
  const id = c.req.param('id');
  await deleteResponse(getSettings(c.env), c.get('principal').id, id);
  return c.json({ id, object: 'response', deleted: true });
});

responsesRoutes.get('/v1/responses/:id/input_items', async (c) => {
  const query = inputItemsQuery().parse(c.req.query());
  const stored = await loadResponse(getSettings(c.env), c.get('principal').id, c.req.param('id'));
  let list: InputItem[] = query.order === 'asc' ? stored.inputItems : [...stored.inputItems].reverse();
  const cursor = (id: string | undefined, param: string) => {
    if (id === undefined) return undefined;
    const at = list.findIndex((i) => i.id === id);
    if (at < 0) throw badRequest(`No input item '${id}' in this response.`, param);
    return at;
  };
  const after = cursor(query.after, 'after');
  const before = cursor(query.before, 'before');
  list = list.slice(after === undefined ? 0 : after + 1, before);
  const page = list.slice(0, query.limit);
  return c.json({
    object: 'list',
    data: page,
    first_id: page[0]?.id ?? null,
    last_id: page[page.length - 1]?.id ?? null,
    has_more: list.length > page.length,
  });
});
