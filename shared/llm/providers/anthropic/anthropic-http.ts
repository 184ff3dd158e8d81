import { ProviderError } from '../../provider-error.ts';
import { postUpstream } from '../http.ts';
import { sseMessages } from '../sse.ts';
import type { CallOptions, ProviderSettings } from '../types.ts';
import { anthropicErrorFrom, anthropicStreamError } from './anthropic-errors.ts';
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
  // The router's per-attempt timeout (until the first chunk, for a stream) is in options.signal.
  return postUpstream(
    settings,
    `${settings.baseURL.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1${path}`,
    headers,
    body,
    options.signal,
    (status, text, res) => anthropicErrorFrom(provider, status, text, res.headers.get('retry-after')),
  );
}

/** One SSE event: its parsed body, and the exact `data` text for forwarding untouched. */
export interface RawEvent {
  event: AnthropicEvent;
  data: string;
}

/**
 * The events of an Anthropic SSE stream until `message_stop` (inclusive) or the end, read by
 * `sseMessages` (idle timeout per read, body cancelled when the consumer stops early). An `error`
 * event first (Anthropic can answer 200 and then fail) is a failure to start, thrown so another
 * model can be tried; a later one is yielded like any other: the consumer decides (translate, or
 * forward as is).
 */
export async function* anthropicEvents(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
  maxBytes?: number,
): AsyncGenerator<RawEvent> {
  let first = true;
  for await (const { data } of sseMessages(provider, res, idleMs, signal, maxBytes)) {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch (err) {
      throw new ProviderError(provider, 'upstream sent a stream event that is not JSON', {
        status: 502,
        cause: err,
      });
    }
    const parsed = anthropicEventSchema().safeParse(json);
    if (!parsed.success)
      throw new ProviderError(provider, 'upstream sent an unexpected stream event', { status: 502 });
    if (first && parsed.data.type === 'error') throw anthropicStreamError(provider, parsed.data);
    first = false;
    yield { event: parsed.data, data };
    if (parsed.data.type === 'message_stop') return;
  }
}

/** Only the parsed events, for translation. */
export async function* eventsOnly(raw: AsyncIterable<RawEvent>): AsyncGenerator<AnthropicEvent> {
  for await (const { event } of raw) yield event;
}
