import { type IdleTimer, idleTimer } from '../../../resilience/deadline.ts';
import { idleError, ProviderError } from '../../provider-error.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, tooLargeError } from '../http.ts';
import { parseBlock } from '../sse.ts';
import type { ChunkBytes, Usage } from '../types.ts';
import { bodyReadError } from './openai-http.ts';

/**
 * OpenAI chunk streams (chat and legacy completions) forwarded as the upstream's own bytes. The
 * body flows through one stream stage, a pull source reading the upstream body (no TransformStream
 * and pipe: on workerd their construction and per-chunk promise hops cost more than the scan), whose
 * scanner looks at each chunk once, as bytes: it cuts at the last event boundary (a half event
 * waits for its end, so a stream that breaks is cut cleanly) and looks for the few byte patterns
 * that may matter (usage, an error, `[DONE]`, an `event:` field). Only the events holding one are
 * decoded and parsed, usually the usage chunk and `[DONE]`; everything else is enqueued as the very
 * bytes that arrived: no decode, no parse, no re-encode, no string per chunk. The patterns are
 * ASCII and no byte of a multi-byte UTF-8 character is, so byte offsets serve any text.
 */

const NL = 10;
const CR = 13;
const EMPTY: Uint8Array = new Uint8Array(0);
const encoder = new TextEncoder();
/** Whole events only are decoded (never half a character), so one stateless decoder serves all. */
const decoder = new TextDecoder();
const DONE = encoder.encode('data: [DONE]\n\n');
const USAGE_KEY = encoder.encode('"usage"');
const ERROR_KEY = encoder.encode('"error"');
const DONE_MARK = encoder.encode('[DONE]');
const EVENT_FIELD = encoder.encode('event');

/**
 * Reads the body up to its first data event, so an upstream that answers 200 and then fails (an
 * error event first, a connection that drops) fails the attempt before any byte reaches the
 * caller, and another model can still be tried. The rest is left unread for the tap. A head
 * past `maxBytes` without a whole event is `tooLargeError` (before any byte went out).
 */
export async function openChunkBytes(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
  maxBytes = DEFAULT_MAX_RESPONSE_BYTES,
): Promise<ChunkBytes> {
  if (!res.body) throw new ProviderError(provider, 'upstream sent no stream', { status: 502 });
  const reader = res.body.getReader();
  // Whole events already looked at (none of them the first data event), and the bytes after them.
  const seen = new Pieces();
  const tail = new Pieces();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        throw bodyReadError(provider, err, signal);
      }
      if (next.done) {
        // Whole before its first event: an answer only if it holds one (e.g. no blank line at the end).
        const rest = tail.join(EMPTY);
        if (hasFirstEvent(provider, concat(rest, encoder.encode('\n\n'))))
          return { provider, idleMs, signal, maxBytes, head: seen.join(rest), reader: null };
        throw new ProviderError(provider, 'upstream stream ended before its first event', { status: 502 });
      }
      // Bytes are looked at once an event may have ended in them, each event once: a long head
      // (one huge event, or many comments) costs its length, not its length per read.
      if (tail.endsEvent(next.value)) {
        const data = tail.join(next.value);
        if (hasFirstEvent(provider, data))
          return { provider, idleMs, signal, maxBytes, head: seen.join(data), reader };
        const end = lastBoundary(data);
        seen.add(data.subarray(0, end));
        if (end < data.length) tail.add(data.subarray(end));
      } else tail.add(next.value);
      if (seen.length + tail.length > maxBytes) throw tooLargeError(provider, maxBytes, 'a stream event');
    }
  } catch (err) {
    reader.cancel().catch(() => undefined);
    throw err;
  }
}

export interface TapOptions {
  /** The caller asked for `stream_options.include_usage`: else the usage-only chunk is withheld. */
  wantsUsage: boolean;
  /** The SSE text that ends a stream the upstream broke (framed at an event boundary). */
  errorEvent(err: unknown): string;
  /** Once, however the stream ends (its end, an error, the caller gone), with the usage seen. */
  onEnd(usage: Usage | undefined, error: unknown): void;
  /**
   * Once, at the first pull: the runtime has taken the first chunk (the head, enqueued when the
   * stream is made) and asks for more. Work put here is off the first byte's path.
   */
  onStarted?(): void;
}

/**
 * The bytes to send the caller. Each chunk must come within the provider's idle limit (one
 * timer per stream); a stall, a broken connection or an upstream error event ends the stream
 * with `errorEvent` after the last whole event; `[DONE]` is added if the upstream closed without.
 * The idle timer is cleared and `onEnd` called when the stream ends, whichever way.
 */
export function tapChunkStream(bytes: ChunkBytes, options: TapOptions): ReadableStream<Uint8Array> {
  const { provider } = bytes;
  let usage: Usage | undefined;
  /** The bytes after the last whole event, waiting for its end (at most `maxBytes` of them). */
  const carry = new Pieces();
  let sawDone = false;
  let failure: unknown;
  let out!: ReadableStreamDefaultController<Uint8Array>;
  let sent = 0;
  const emit = (piece: Uint8Array) => {
    sent++;
    out.enqueue(piece);
  };
  const fail = (err: unknown) => {
    if (failure === undefined) failure = err;
  };
  const { reader } = bytes;
  let reading = false;
  let idled: ProviderError | undefined;
  // Only a read left waiting counts: a caller slow to take what we sent is not the upstream's fault.
  // Armed at the first pull: no read waits before it, and its setTimeout stays off the first byte's
  // path (the Response is built and handed over first).
  let idle: IdleTimer | undefined;
  const armed = () => {
    if (idle) return idle;
    idle = idleTimer(bytes.idleMs, () => {
      if (!reading) return false;
      idled = idleError(provider, bytes.idleMs);
      reader?.cancel(idled).catch(() => undefined);
    });
    options.onStarted?.();
    return idle;
  };
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    idle?.dispose();
    options.onEnd(usage, failure);
  };

  /** Usage-only chunks the caller did not ask for are withheld; an error event ends the stream. */
  const classify = (piece: Uint8Array): 'keep' | 'drop' | 'done' | ProviderError => {
    if (isDone(piece)) return 'done';
    const event = classifyEvent(provider, decoder.decode(piece));
    if (event.usage) usage = event.usage;
    if (event.kind === 'usage-only') return options.wantsUsage ? 'keep' : 'drop';
    return event.kind === 'data' || event.kind === 'other' ? 'keep' : event.kind;
  };

  const scan = (chunk: Uint8Array) => {
    if (failure !== undefined) return;
    let data = chunk;
    if (carry.length) {
      // Joined only once this chunk may end the event: a long one costs its length once.
      if (!carry.endsEvent(chunk)) {
        carry.add(chunk);
        if (carry.length > bytes.maxBytes) fail(tooLargeError(provider, bytes.maxBytes, 'a stream event'));
        return;
      }
      data = carry.join(chunk);
    }
    const limit = lastBoundary(data);
    if (limit < data.length) {
      carry.add(data.slice(limit));
      if (carry.length > bytes.maxBytes) fail(tooLargeError(provider, bytes.maxBytes, 'a stream event'));
    }
    if (limit === 0) return;
    const complete = limit === data.length ? data : data.subarray(0, limit);
    let match = findInteresting(complete, 0, limit);
    if (match < 0) {
      emit(complete);
      return;
    }
    // Only the events that may matter are decoded and parsed on their own (usually the usage
    // chunk and [DONE]); the runs of plain events between them go out as they are.
    let from = 0;
    let at = 0;
    while (match >= 0) {
      let next = eventEnd(complete, at, limit);
      while (next <= match) {
        at = next;
        next = eventEnd(complete, at, limit);
      }
      const kind = classify(complete.subarray(at, next));
      if (kind === 'drop' || kind instanceof ProviderError) {
        if (at > from) emit(complete.subarray(from, at));
        from = next;
        if (kind instanceof ProviderError) {
          fail(kind);
          return;
        }
      } else if (kind === 'done') sawDone = true;
      at = next;
      match = findInteresting(complete, next, limit);
    }
    if (from < limit) emit(from === 0 ? complete : complete.subarray(from, limit));
  };

  /** The last bytes (the error event, or [DONE] if the upstream sent none), then the end. */
  const close = () => {
    if (ended) return; // the caller left first
    const last = carry.length ? carry.join(EMPTY) : EMPTY;
    if (failure === undefined && last.some((b) => b !== NL && b !== CR && b !== 32)) {
      // The upstream closed after a last event without its blank line: still a whole event.
      scan(concat(last, encoder.encode(last[last.length - 1] === NL ? '\n' : '\n\n')));
    }
    if (failure !== undefined) {
      out.enqueue(encoder.encode(options.errorEvent(failure)));
      // Stopped early (an error event, a stall): the upstream connection is let go.
      reader?.cancel().catch(() => undefined);
    } else if (!sawDone) out.enqueue(DONE);
    out.close();
    end();
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        out = controller;
        if (bytes.head.length) scan(bytes.head);
      },
      // One upstream read per pull, until something went out (a read may hold half an event).
      async pull() {
        const timer = armed();
        for (const before = sent; sent === before; ) {
          if (failure !== undefined || !reader) return close();
          let next: ReadableStreamReadResult<Uint8Array>;
          timer.touch();
          reading = true;
          try {
            next = await reader.read();
          } catch (err) {
            fail(idled ?? bodyReadError(provider, err, bytes.signal));
            return close();
          } finally {
            reading = false;
          }
          if (ended) return;
          if (idled) fail(idled);
          if (idled || next.done) return close();
          // No touch here: the timer only fails a read left waiting, and the next read touches first.
          scan(next.value);
        }
      },
      // The caller left: the upstream read stops and its connection is released.
      cancel(reason) {
        reader?.cancel(reason).catch(() => undefined);
        end();
      },
    },
    { highWaterMark: 0 },
  );
}

interface ClassifiedEvent {
  kind: 'data' | 'usage-only' | 'done' | 'other' | ProviderError;
  usage?: Usage;
}

/** What one event (its text, blank line included) is to us. */
function classifyEvent(provider: string, text: string): ClassifiedEvent {
  const message = parseBlock(text.replace(/\r\n?/g, '\n').replace(/\n+$/, ''));
  if (!message) return { kind: 'other' };
  if (message.data === '[DONE]') return { kind: 'done' };
  let json: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(message.data) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      json = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: forwarded as it came, unless it says it is an error.
  }
  const error = json?.error;
  if (message.event === 'error' || (error && typeof error === 'object') || json?.object === 'error') {
    const said = (error as { message?: unknown } | undefined)?.message ?? json?.message;
    const text =
      typeof said === 'string' ? said : json ? 'upstream stream error' : message.data.slice(0, 300);
    return { kind: new ProviderError(provider, text || 'upstream stream error', { status: 502 }) };
  }
  if (!json) return { kind: 'data' };
  const usage = json.usage && typeof json.usage === 'object' ? (json.usage as Usage) : undefined;
  const usageOnly = usage !== undefined && Array.isArray(json.choices) && json.choices.length === 0;
  return usage ? { kind: usageOnly ? 'usage-only' : 'data', usage } : { kind: 'data' };
}

/** True once `head` holds a whole data event; throws if an error event comes before one. */
function hasFirstEvent(provider: string, head: Uint8Array): boolean {
  const end = lastBoundary(head);
  if (end === 0) return false;
  for (let at = 0; at < end; ) {
    const next = eventEnd(head, at, end);
    // A plain `data:` event (nothing that may be an error) is the first chunk: no decode or parse.
    if (startsWithData(head, at) && findInteresting(head, at, next) < 0) return true;
    const { kind } = classifyEvent(provider, decoder.decode(head.subarray(at, next)));
    if (kind instanceof ProviderError) throw kind;
    if (kind !== 'other') return true;
    at = next;
  }
  return false;
}

/**
 * The first offset in [from, to) where something the tap must look at starts: `"usage"` with an
 * object after its colon (OpenAI sends `"usage":null` in every chunk once usage is asked for),
 * `"error"`, `[DONE]`, or an `event` field at the start of a line; -1 when there is none. A false
 * positive only costs a parse of that event.
 */
function findInteresting(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c === 0x22) {
      const k = b[i + 1];
      if (k === 0x75 && matches(b, i, to, USAGE_KEY)) {
        let j = skipSpace(b, i + USAGE_KEY.length, to);
        if (b[j] === 0x3a && j < to) {
          j = skipSpace(b, j + 1, to);
          if (j < to && b[j] === 0x7b) return i;
        }
      } else if (k === 0x65 && matches(b, i, to, ERROR_KEY)) return i;
    } else if (c === 0x5b) {
      if (b[i + 1] === 0x44 && matches(b, i, to, DONE_MARK)) return i;
    } else if (c === 0x65 && (i === 0 || b[i - 1] === NL || b[i - 1] === CR)) {
      if (matches(b, i, to, EVENT_FIELD)) {
        const j = skipSpace(b, i + EVENT_FIELD.length, to);
        if (j < to && b[j] === 0x3a) return i;
      }
    }
  }
  return -1;
}

function matches(b: Uint8Array, at: number, to: number, what: Uint8Array): boolean {
  if (at + what.length > to) return false;
  for (let k = 0; k < what.length; k++) if (b[at + k] !== what[k]) return false;
  return true;
}

/** Past JSON's whitespace (and SSE's): space, tab, LF, CR. */
function skipSpace(b: Uint8Array, at: number, to: number): number {
  let j = at;
  while (j < to) {
    const c = b[j];
    if (c !== 0x20 && c !== 0x09 && c !== NL && c !== CR) break;
    j++;
  }
  return j;
}

/** The event at `at` opens with a `data:` line (the usual one-line chunk). */
function startsWithData(b: Uint8Array, at: number): boolean {
  return (
    b[at] === 0x64 && b[at + 1] === 0x61 && b[at + 2] === 0x74 && b[at + 3] === 0x61 && b[at + 4] === 0x3a
  );
}

/** `data: [DONE]` (or `data:[DONE]`) and its blank line, as bytes. */
function isDone(event: Uint8Array): boolean {
  if (!startsWithData(event, 0)) return false;
  const at = event[5] === 0x20 ? 6 : 5;
  if (!matches(event, at, event.length, DONE_MARK)) return false;
  for (let i = at + DONE_MARK.length; i < event.length; i++)
    if (event[i] !== NL && event[i] !== CR) return false;
  return true;
}

/** Just past the last blank line (LF LF or CRLF CRLF) in `bytes`; 0 when there is none. */
function lastBoundary(bytes: Uint8Array): number {
  let i = bytes.lastIndexOf(NL);
  while (i > 0) {
    if (bytes[i - 1] === NL || (bytes[i - 1] === CR && bytes[i - 2] === NL)) return i + 1;
    i = bytes.lastIndexOf(NL, i - 1);
  }
  return 0;
}

/** Just past the blank line that ends the event starting at `from` (or `limit`). */
function eventEnd(bytes: Uint8Array, from: number, limit: number): number {
  let i = bytes.indexOf(NL, from);
  while (i >= 0 && i < limit) {
    if (bytes[i + 1] === NL) return i + 2;
    if (bytes[i + 1] === CR && bytes[i + 2] === NL) return i + 3;
    i = bytes.indexOf(NL, i + 1);
  }
  return limit;
}

/**
 * Bytes kept in the pieces they came in, up to a point where an event may end: joined once, when
 * it comes, instead of copied into one buffer at every read. Nothing held ends an event.
 */
class Pieces {
  private parts: Uint8Array[] = [];
  length = 0;

  add(bytes: Uint8Array): void {
    if (!bytes.length) return;
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  /** Whether `chunk` ends an event: a blank line in it, or one across the join with what is held. */
  endsEvent(chunk: Uint8Array): boolean {
    if (lastBoundary(chunk) > 0) return true;
    const last = this.parts[this.parts.length - 1];
    if (!last) return false;
    // A blank line is at most 3 bytes (LF CR LF): 2 from each side of the join.
    const joint = new Uint8Array(4);
    const before = Math.min(2, last.length);
    joint.set(last.subarray(last.length - before), 2 - before);
    joint.set(chunk.subarray(0, 2), 2);
    return lastBoundary(joint) > 2;
  }

  /** What is held followed by `chunk`, in one buffer; nothing is held after. */
  join(chunk: Uint8Array): Uint8Array {
    const parts = this.parts;
    if (!parts.length) return chunk;
    const out = new Uint8Array(this.length + chunk.length);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    out.set(chunk, at);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
