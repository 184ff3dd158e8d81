import { maxBytes } from '../http.ts';
import { parseUpstream } from '../openai/openai-bodies.ts';
import { readJson } from '../openai/openai-http.ts';
import { primed } from '../sse.ts';
import type { CallOptions, ProviderSettings } from '../types.ts';
import { anthropicEvents, anthropicRequest, type RawEvent } from './anthropic-http.ts';
import { type AnthropicResponse, anthropicMessageSchema, countTokensSchema } from './anthropic-wire.ts';

/** Anthropic's native Messages API, for callers that already speak it (the messages function). */
export interface AnthropicMessages {
  /** A Messages request as the caller sent it (model already replaced), answered as is. */
  messages(body: Record<string, unknown>, options: CallOptions): Promise<AnthropicResponse>;
  /** Resolves once the first event is in: an upstream that fails to start can still fall back. */
  messagesStream(body: Record<string, unknown>, options: CallOptions): Promise<AsyncIterable<RawEvent>>;
  countTokens(body: Record<string, unknown>, options: CallOptions): Promise<number>;
}

/**
 * The native API over fetch, untranslated; the chat provider (index.ts) is built on it. Apart
 * from the translation so the messages function, which sends Anthropic models their own
 * requests, carries none of it.
 */
export function createAnthropicMessages(settings: ProviderSettings): AnthropicMessages {
  const provider = settings.id;
  return {
    async messages(body, options) {
      const res = await anthropicRequest(settings, '/messages', { ...body, stream: false }, options);
      return parseUpstream(
        provider,
        anthropicMessageSchema(),
        await readJson(provider, res, options.signal, maxBytes(settings)),
      );
    },
    async messagesStream(body, options) {
      const res = await anthropicRequest(settings, '/messages', { ...body, stream: true }, options, {
        stream: true,
      });
      return primed(anthropicEvents(provider, res, settings.timeoutMs, options.signal, maxBytes(settings)));
    },
    async countTokens(body, options) {
      const res = await anthropicRequest(settings, '/messages/count_tokens', body, options);
      return parseUpstream(
        provider,
        countTokensSchema(),
        await readJson(provider, res, options.signal, maxBytes(settings)),
      ).input_tokens;
    },
  };
}
