import type { Context } from 'hono';
import { beginSpend, estimatePromptTokens, setCostHeader } from '../../governance/spend.ts';
import type { AppEnv } from '../../http/create-app.ts';
import { maxBodyBytes, readJson } from '../../middleware/json-body/index.ts';
import { redactString } from '../../redact/index.ts';
import { ProviderError } from '../provider-error.ts';
import { mapAnthropicUsage } from '../providers/anthropic/anthropic-chat-response.ts';
import { anthropicErrorType } from '../providers/anthropic/anthropic-errors.ts';
import { PASS_THROUGH_HEADERS } from '../providers/anthropic/anthropic-http.ts';
import type { AnthropicRequest, AnthropicUsage } from '../providers/anthropic/anthropic-wire.ts';
import { anthropicMessagesFor, translatedChatFor } from '../providers/index.ts';
import { batchesOf } from '../providers/sse.ts';
import type { ResolvedModel } from '../registry.ts';
import { resolveTarget, roleHeaderFor } from '../registry.ts';
import { createRouteContext, setRouteHeaders } from '../route-context.ts';
import { countTokens, routeCall } from '../router.ts';
import { chatChunksToEvents, chatToMessage, type MessagesEvent } from './chat-to-messages.ts';
import { estimateInputTokens } from './estimate-tokens.ts';
import { countTokensRequest, messagesRequest } from './messages-schema.ts';
import { messagesToChat } from './messages-to-chat.ts';

/** A stream event and the exact `data` text it goes out as. */
interface OutEvent {
  event: MessagesEvent;
  data: string;
}

const isAnthropic = (model: ResolvedModel) => model.provider.type === 'anthropic';

/** `anthropic-beta` (and the caller's `anthropic-version`) go to Anthropic upstreams untouched. */
function passThrough(c: Context<AppEnv>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASS_THROUGH_HEADERS) {
    const value = c.req.header(name);
    if (value) out[name] = value;
  }
  return out;
}

/**
 * `POST /v1/messages`: Anthropic's Messages API over the same chains, retries, fallback, circuits
 * and metrics as chat. An `anthropic` model gets the request as sent (model name replaced, beta
 * headers passed through); any other model gets it translated to Chat Completions and its
 * answer translated back, streams included, so the caller always sees Anthropic's shapes.
 */
export async function createMessage(c: Context<AppEnv>): Promise<Response> {
  const body = (await readJson(c, messagesRequest(), maxBodyBytes('messages'))) as AnthropicRequest;
  const target = resolveTarget(c.env, body.model, roleHeaderFor(c.req, body.model), 'chat');
  const stream = body.stream === true;
  const ctx = createRouteContext(c, target, stream);
  const native = (model: ResolvedModel) => ({ ...body, model: model.model.upstream });
  // Budgets and pricing as for chat: reserved before the call, settled from its usage.
  const spend = await beginSpend(c, {
    endpoint: 'messages',
    target,
    promptTokens: () => estimatePromptTokens([body.system, body.messages, body.tools]),
    maxOutputTokens: body.max_tokens,
  });
  const released = (err: unknown): never => {
    spend.release();
    throw err;
  };
  const options = (signal: AbortSignal, model: ResolvedModel) => ({
    signal,
    headers: isAnthropic(model) ? { ...ctx.headers(), ...passThrough(c) } : ctx.headers(),
  });

  if (!stream) {
    const routed = await routeCall(ctx, async (model, signal) => {
      if (isAnthropic(model))
        return anthropicMessagesFor(model).messages(native(model), options(signal, model));
      const completion = await translatedChatFor(model).chat(
        model.model.upstream,
        messagesToChat(body),
        options(signal, model),
      );
      return chatToMessage(completion, model.model.id);
    }).catch(released);
    countTokens(routed.model, mapAnthropicUsage(routed.result.usage));
    setRouteHeaders(c, routed);
    setCostHeader(c, spend.settle(routed.model, routed.result.usage));
    return c.json(routed.result);
  }

  // In batches: the events of one upstream read go out as one piece.
  const routed = await routeCall(ctx, async (model, signal): Promise<AsyncIterable<OutEvent[]>> => {
    if (isAnthropic(model))
      return batchesOf(
        await anthropicMessagesFor(model).messagesStream(native(model), options(signal, model)),
      );
    const chunks = await translatedChatFor(model).chatStream(
      model.model.upstream,
      messagesToChat(body),
      options(signal, model),
    );
    return serialised(chatChunksToEvents(chunks, model.model.id));
  }).catch(released);
  // Counted now, as before the first byte: this writer has no hook for its first chunk.
  routed.opened();
  setRouteHeaders(c, routed);
  const encoder = new TextEncoder();
  const log = c.get('log');
  const sse = new ReadableStream<Uint8Array>({
    async start(controller) {
      const usage: AnthropicUsage = {};
      const frame = (type: string, data: string) => `event: ${type}\ndata: ${data}\n\n`;
      const enqueue = (piece: string) => controller.enqueue(encoder.encode(piece));
      /** One batch as one piece; false once an error event (written last) has ended the stream. */
      const send = (batch: OutEvent[]): boolean => {
        let piece = '';
        for (const { event, data } of batch) {
          collectUsage(usage, event);
          piece += frame(event.type, data);
          if (event.type === 'error') {
            enqueue(piece);
            log.warn('llm stream failed mid-way', {
              model: routed.model.model.id,
              error: data.slice(0, 300),
            });
            return false;
          }
        }
        if (piece) enqueue(piece);
        return true;
      };
      try {
        for await (const batch of routed.result) if (!send(batch)) break;
      } catch (err) {
        // After the first byte there is no fallback: end with Anthropic's error event, never a cut.
        log.warn('llm stream failed mid-way', {
          model: routed.model.model.id,
          error: err instanceof Error ? err : String(err),
        });
        enqueue(frame('error', JSON.stringify(streamErrorEvent(err))));
      } finally {
        routed.dispose();
        countTokens(routed.model, mapAnthropicUsage(usage));
        // Priced from the usage the stream reported, even one cut before its end.
        spend.settle(routed.model, usage);
        controller.close();
      }
    },
  });
  c.header('content-type', 'text/event-stream; charset=utf-8');
  c.header('cache-control', 'no-cache');
  return c.body(sse);
}

/**
 * `POST /v1/messages/count_tokens`: Anthropic's own count for an Anthropic model, an estimate
 * (estimate-tokens.ts) for any other; `x-mas-token-count` says which.
 */
export async function countMessageTokens(c: Context<AppEnv>): Promise<Response> {
  const body = (await readJson(c, countTokensRequest(), maxBodyBytes('messages'))) as Pick<
    AnthropicRequest,
    'model' | 'messages' | 'system' | 'tools'
  > &
    Record<string, unknown>;
  const target = resolveTarget(c.env, body.model, roleHeaderFor(c.req, body.model), 'chat');
  const ctx = createRouteContext(c, target);
  const routed = await routeCall(ctx, async (model, signal) => {
    if (!isAnthropic(model)) return { input_tokens: estimateInputTokens(body), source: 'estimate' };
    const { stream: _stream, max_tokens: _max, ...rest } = body;
    const tokens = await anthropicMessagesFor(model).countTokens(
      { ...rest, model: model.model.upstream },
      { signal, headers: { ...ctx.headers(), ...passThrough(c) } },
    );
    return { input_tokens: tokens, source: 'upstream' };
  });
  setRouteHeaders(c, routed);
  c.header('x-mas-token-count', routed.result.source);
  return c.json({ input_tokens: routed.result.input_tokens });
}

async function* serialised(batches: AsyncIterable<MessagesEvent[]>): AsyncGenerator<OutEvent[]> {
  for await (const events of batches) yield events.map((event) => ({ event, data: JSON.stringify(event) }));
}

function collectUsage(usage: AnthropicUsage, event: MessagesEvent): void {
  const from =
    event.type === 'message_start'
      ? (event.message as { usage?: AnthropicUsage } | undefined)?.usage
      : event.type === 'message_delta'
        ? (event.usage as AnthropicUsage | undefined)
        : undefined;
  for (const [key, value] of Object.entries(from ?? {})) {
    if (typeof value === 'number') (usage as Record<string, number>)[key] = value;
  }
}

function streamErrorEvent(err: unknown) {
  const upstreamType = err instanceof ProviderError ? anthropicErrorType(err) : undefined;
  const type =
    upstreamType ??
    (err instanceof ProviderError && err.code === 'upstream_timeout' ? 'timeout_error' : 'api_error');
  const message = redactString(err instanceof Error ? err.message : 'upstream stream failed').value;
  return { type: 'error', error: { type, message: `Upstream stream failed: ${message}` } };
}
