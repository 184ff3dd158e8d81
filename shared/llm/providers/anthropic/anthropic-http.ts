import { EventSourceParserStream } from 'eventsource-parser/stream';
import { ProviderError } from '../../provider-error.ts';
import { bodyReadError } from '../openai/openai-http.ts';
import { withIdleTimeout } from '../openai/openai-sse.ts';
import type { CallOptions, ProviderSettings } from '../types.ts';
import { anthropicErrorFrom } from './anthropic-errors.ts';
import { ANTHROPIC_VERSION, type AnthropicEvent, anthropicEventSchema } from './anthropic-wire.ts';

/** Request headers a caller of the native Messages API may pass through to Anthropic. */
export const PASS_THROUGH_HEADERS = ['anthropic-beta', 'anthropic-version'] as const;

/**
 * POSTs to `<baseURL>/v1<path>` with `x-api-key` and `anthropic-version` (ANTHROPIC_BASE_URL,
 * like Anthropic's SDK, is the origin without `/v1`). Returns the response once its headers are
 * in and its status is 2xx; anything else becomes a ProviderError. Streams get their own timeout
 * until the headers arrive (the router times their chunks, not the whole attempt).
 */
export async function anthropicRequest(
  settings: ProviderSettings,
  path: string,
  body: unknown,
  options: CallOptions,
  { stream = false }: { stream?: boolean } = {},
): Promise<Response> {
  const provider = settings.id;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    'anthropic-version': ANTHROPIC_VERSION,
    ...options.headers,
  };
  if (settings.apiKey) headers['x-api-key'] = settings.apiKey;
  const headersTimeout = new AbortController();
  const timer = setTimeout(() => headersTimeout.abort(), settings.timeoutMs);
  let res: Response;
  try {
    res = await (settings.fetch ?? fetch)(
      `${settings.baseURL.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1${path}`,
      {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.any([options.signal, headersTimeout.signal]),
      },
    );
  } catch (err) {
    if (options.signal.aborted) throw err;
    if (headersTimeout.signal.aborted)
      throw new ProviderError(provider, 'upstream timed out', { code: 'upstream_timeout', cause: err });
    throw new ProviderError(provider, 'upstream unreachable', { code: 'upstream_unreachable', cause: err });
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      if (options.signal.aborted) throw err;
    }
    throw anthropicErrorFrom(provider, res.status, text, res.headers.get('retry-after'));
  }
  return res;
}

/** One SSE event: its parsed body, and the exact `data` text for forwarding untouched. */
export interface RawEvent {
  event: AnthropicEvent;
  data: string;
}

/**
 * The events of an Anthropic SSE stream until `message_stop` (inclusive) or the end. Every read
 * must complete within `idleMs`, so a stalled upstream ends the stream instead of hanging it;
 * stopping early cancels the body, which releases the upstream connection. An `error` event is
 * yielded like any other: the consumer decides (translate, or forward as is).
 */
export async function* anthropicEvents(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
): AsyncGenerator<RawEvent> {
  if (!res.body) throw new ProviderError(provider, 'upstream sent no stream', { status: 502 });
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<{ event?: string; data: string }>;
      try {
        next = await withIdleTimeout(reader.read(), idleMs, provider);
      } catch (err) {
        throw bodyReadError(provider, err, signal);
      }
      if (next.done) return;
      const { data } = next.value;
      let json: unknown;
      try {
        json = JSON.parse(data);
      } catch (err) {
        throw new ProviderError(provider, 'upstream sent a stream event that is not JSON', {
          status: 502,
          cause: err,
        });
      }
      const parsed = anthropicEventSchema.safeParse(json);
      if (!parsed.success)
        throw new ProviderError(provider, 'upstream sent an unexpected stream event', { status: 502 });
      yield { event: parsed.data, data };
      if (parsed.data.type === 'message_stop') return;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** Only the parsed events, for translation. */
export async function* eventsOnly(raw: AsyncIterable<RawEvent>): AsyncGenerator<AnthropicEvent> {
  for await (const { event } of raw) yield event;
}
