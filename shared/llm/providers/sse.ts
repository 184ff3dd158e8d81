import { idleTimer } from '../../resilience/deadline.ts';
import { idleError, ProviderError } from '../provider-error.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, tooLargeError } from './http.ts';
import { bodyReadError } from './openai/openai-http.ts';

/** One server-sent event as it arrived: its `event:` name (if any) and its `data:` text. */
export interface SseMessage {
  event?: string | undefined;
  data: string;
}

/**
 * The server-sent events of an upstream response body (OpenAI's and Anthropic's streams alike),
 * for the streams that are translated, one upstream read's worth at a time (reads that complete
 * no event yield nothing): a writer that sends each batch as one piece hands the runtime one chunk
 * per read instead of one per event. The body is read directly (no decoder or parser stream
 * stages in between, each of which costs a hop per chunk on workerd), decoded once per chunk and
 * cut into events: allocation per event, not per byte. No read may wait longer than `idleMs`
 * (one timer for the stream, not one per read), so a stalled upstream ends the stream instead of
 * hanging it; stopping early (client gone, idle, error) cancels the body, which releases the
 * upstream connection. An event still without its end past `maxBytes` (characters, which are never
 * more than its bytes) ends the stream with `tooLargeError`: a body with no event boundary cannot
 * fill the isolate.
 */
export async function* sseBatches(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
  maxBytes = DEFAULT_MAX_RESPONSE_BYTES,
): AsyncGenerator<SseMessage[]> {
  if (!res.body) throw new ProviderError(provider, 'upstream sent no stream', { status: 502 });
  const reader = res.body.getReader();
  let idled: ProviderError | undefined;
  let reading = false;
  // Only a read left waiting counts: time spent by our consumer between reads is not the upstream's.
  const idle = idleTimer(idleMs, () => {
    if (!reading) return false;
    idled = idleError(provider, idleMs);
    reader.cancel(idled).catch(() => undefined);
  });
  const parser = new SseParser();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      idle.touch();
      reading = true;
      try {
        next = await reader.read();
      } catch (err) {
        throw bodyReadError(provider, idled ?? err, signal);
      } finally {
        reading = false;
      }
      if (idled) throw idled;
      const batch = next.done ? parser.end() : parser.push(next.value);
      if (batch.length) yield batch;
      if (parser.held > maxBytes) throw tooLargeError(provider, maxBytes, 'a stream event');
      if (next.done) return;
    }
  } finally {
    idle.dispose();
    reader.cancel().catch(() => undefined);
  }
}

/** `sseBatches` one event at a time, for the readers that translate event by event. */
export async function* sseMessages(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
  maxBytes = DEFAULT_MAX_RESPONSE_BYTES,
): AsyncGenerator<SseMessage> {
  for await (const batch of sseBatches(provider, res, idleMs, signal, maxBytes)) yield* batch;
}

/**
 * The event stream format (WHATWG HTML, "server-sent events"): lines ended by CRLF, LF or CR,
 * `field: value`, a blank line dispatches; `data` lines are joined with LF, comments and `id` /
 * `retry` are ignored, an event without data is not dispatched. Line ends are made LF chunk by
 * chunk, and the text of an event not yet ended is kept in the pieces it came in, joined only
 * once a chunk may end it: an event arriving in many chunks costs its length once, not once per
 * chunk (`held` says how much is waiting, for the caller to bound).
 */
export class SseParser {
  private readonly decoder = new TextDecoder();
  /** The text since the last event's end, LF-only, in pieces. */
  private parts: string[] = [];
  /** Characters held in `parts`. */
  private size = 0;
  /** A CR at the end of the last chunk: maybe the first half of a CRLF split across chunks. */
  private cr = false;

  /** Characters of an event still waiting for its end. */
  get held(): number {
    return this.size;
  }

  /** The events completed by this chunk. */
  push(chunk: Uint8Array): SseMessage[] {
    let text = this.decoder.decode(chunk, { stream: true });
    if (this.cr) {
      text = `\r${text}`;
      this.cr = false;
    }
    if (text.includes('\r')) {
      if (text.endsWith('\r')) {
        this.cr = true;
        text = text.slice(0, -1);
      }
      text = text.replace(/\r\n?/g, '\n');
    }
    const parts = this.parts;
    if (parts.length) {
      // Nothing in the pieces ends an event: only this text, or a blank line across the join.
      if (!text.includes('\n\n') && !(text.startsWith('\n') && parts[parts.length - 1]!.endsWith('\n'))) {
        if (text) {
          parts.push(text);
          this.size += text.length;
        }
        return [];
      }
      parts.push(text);
      text = parts.join('');
      this.parts = [];
      this.size = 0;
    }
    return this.take(text);
  }

  /** What is left when the body ends: a last event without its blank line still counts. */
  end(): SseMessage[] {
    const rest = this.parts.join('') + (this.cr ? '\n' : '') + this.decoder.decode();
    this.parts = [];
    this.size = 0;
    this.cr = false;
    return rest.trim() ? this.take(`${rest}\n\n`) : [];
  }

  /** The events of LF-only `text` (no pieces held); what follows the last one is held. */
  private take(text: string): SseMessage[] {
    const out: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n\n', start);
      if (end < 0) break;
      const message = parseBlock(text.slice(start, end));
      if (message) out.push(message);
      start = end + 2;
    }
    const rest = start ? text.slice(start) : text;
    if (rest) {
      this.parts.push(rest);
      this.size = rest.length;
    }
    return out;
  }
}

/** One event's text (without its blank line) as a message; undefined for a comment or no data. */
export function parseBlock(block: string): SseMessage | undefined {
  // The common case, one `data:` line: no split.
  if (block.startsWith('data:') && !block.includes('\n')) {
    return { data: block.charCodeAt(5) === 32 ? block.slice(6) : block.slice(5) };
  }
  let event: string | undefined;
  let data: string | undefined;
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === 0) continue; // a comment
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
  }
  if (data === undefined) return undefined;
  return event === undefined ? { data } : { event, data };
}

/**
 * Reads the first item now, so a failure to start surfaces before any byte reaches the caller
 * (and another model can still be tried).
 */
export async function primed<T>(items: AsyncGenerator<T>): Promise<AsyncIterable<T>> {
  const first = await items.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      yield* items;
    },
  };
}

/**
 * Items that arrived together, in batches of one upstream read each, besides one at a time: a
 * writer that knows (`batchesOf`) sends each batch as one piece.
 */
export interface Batched<T> extends AsyncIterable<T> {
  batches(): AsyncIterable<T[]>;
}

/** `primed` for batches (none of them empty): the first is read now. */
export async function primedBatches<T>(batches: AsyncGenerator<T[]>): Promise<Batched<T>> {
  const first = await batches.next();
  async function* all(): AsyncGenerator<T[]> {
    if (first.done) return;
    yield first.value;
    yield* batches;
  }
  return {
    batches: all,
    async *[Symbol.asyncIterator]() {
      for await (const batch of all()) yield* batch;
    },
  };
}

/** The batches of a `Batched` iterable; any other gives its items one batch each. */
export function batchesOf<T>(items: AsyncIterable<T>): AsyncIterable<T[]> {
  if (typeof (items as Partial<Batched<T>>).batches === 'function') return (items as Batched<T>).batches();
  return (async function* () {
    for await (const item of items) yield [item];
  })();
}
