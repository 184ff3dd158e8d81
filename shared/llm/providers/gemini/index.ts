import { ApiError, type GenerateContentResponse, GoogleGenAI } from '@google/genai/web';
import { type Deadline, deadline, withTimeout } from '../../../resilience/deadline.ts';
import { idleError, ProviderError, parseRetryAfter } from '../../provider-error.ts';
import type { ChatProvider, ProviderSettings } from '../types.ts';
import { toGeminiRequest } from './gemini-chat-request.ts';
import { toOpenAIChunks, toOpenAICompletion } from './gemini-chat-response.ts';

/** Google Gemini through its native API (`@google/genai`), translated to and from OpenAI shapes. */
export function createGeminiProvider(settings: ProviderSettings): ChatProvider {
  const provider = settings.id;
  const clientFor = (headers: Record<string, string>) =>
    new GoogleGenAI({
      apiKey: settings.apiKey ?? '',
      httpOptions: {
        baseUrl: settings.baseURL,
        // No SDK timeout: it stays armed while a stream is read (cutting long streams) and
        // outlives the call. The router bounds each attempt; streams are timed per chunk below.
        headers,
        // The router retries; the SDK must not.
        retryOptions: { attempts: 1 },
        ...(settings.fetch ? { fetch: settings.fetch } : {}),
      },
    });
  return {
    type: 'gemini',
    async embed(upstreamModel, input, options) {
      if (!('texts' in input)) throw tokenInputUnsupported(provider);
      const inputs = input.texts;
      try {
        const res = await clientFor(options.headers).models.embedContent({
          model: upstreamModel,
          contents: inputs,
          config: {
            abortSignal: options.signal,
            ...(options.dimensions ? { outputDimensionality: options.dimensions } : {}),
          },
        });
        const vectors = (res.embeddings ?? []).map((e) => e.values ?? []);
        if (vectors.length !== inputs.length) {
          throw new ProviderError(
            provider,
            `Gemini returned ${vectors.length} embeddings for ${inputs.length} inputs`,
            { status: 502 },
          );
        }
        // The Gemini API reports no token usage for embeddings.
        return { vectors, promptTokens: 0 };
      } catch (err) {
        throw mapGeminiError(provider, err);
      }
    },
    async chat(upstreamModel, request, options) {
      const { contents, config } = toGeminiRequest(request);
      try {
        const response = await clientFor(options.headers).models.generateContent({
          model: upstreamModel,
          contents,
          config: { ...config, abortSignal: options.signal },
        });
        return toOpenAICompletion(provider, upstreamModel, response);
      } catch (err) {
        throw mapGeminiError(provider, err);
      }
    },
    async chatStream(upstreamModel, request, options) {
      const { contents, config } = toGeminiRequest(request);
      // Our own abort, following the caller's: an idle stream cancels the upstream request too.
      const link = deadline(Number.POSITIVE_INFINITY, options.signal);
      try {
        const stream = await clientFor(options.headers).models.generateContentStream({
          model: upstreamModel,
          contents,
          config: { ...config, abortSignal: link.signal },
        });
        const quiet = idleLimited(mapErrors(provider, stream), settings.timeoutMs, provider, link);
        const chunks = toOpenAIChunks(provider, upstreamModel, quiet)[Symbol.asyncIterator]();
        // Read the first chunk before committing, so a failure to start can still fall back.
        const first = await chunks.next();
        return {
          async *[Symbol.asyncIterator]() {
            if (!first.done) yield first.value;
            for (;;) {
              const next = await chunks.next();
              if (next.done) return;
              yield next.value;
            }
          },
        };
      } catch (err) {
        link.abort(new DOMException('stream failed to start', 'AbortError'));
        link.dispose();
        throw mapGeminiError(provider, err);
      }
    },
  };
}

/** Gemini embeds text only: token ids made by OpenAI's tokenizer mean nothing to it. */
export function tokenInputUnsupported(provider: string): ProviderError {
  return new ProviderError(
    provider,
    'Token-id input needs an OpenAI or OpenAI-compatible embedding model; Gemini embeds text only.',
    { status: 400, code: 'token_input_unsupported', retryable: false, fallback: false },
  );
}

/**
 * The same per-chunk idle limit as OpenAI and Anthropic streams: each response must come within
 * `ms`, else the upstream request is aborted and the stream ends with an upstream_timeout.
 */
async function* idleLimited<T>(
  source: AsyncIterable<T>,
  ms: number,
  provider: string,
  link: Deadline,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await withTimeout(iterator.next(), ms, () => idleError(provider, ms));
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Gone quiet, failed, or its reader stopped early: the upstream request ends here too.
    if (!finished) link.abort(new DOMException('stream ended early', 'AbortError'));
    link.dispose();
  }
}

async function* mapErrors(provider: string, stream: AsyncIterable<GenerateContentResponse>) {
  try {
    yield* stream;
  } catch (err) {
    throw mapGeminiError(provider, err);
  }
}

/**
 * Gemini errors by status: 429 RESOURCE_EXHAUSTED and 5xx retry, 400 INVALID_ARGUMENT is the
 * caller's (unless the prompt is too long: another model may take it), 401/403 and 404 send the
 * router to the next model.
 */
export function mapGeminiError(provider: string, err: unknown): unknown {
  if (err instanceof ProviderError) return err;
  if (err instanceof ApiError) {
    const status = err.status;
    const message = extractMessage(err.message);
    const tooLong = /token count|too long|exceeds the maximum/i.test(message);
    return new ProviderError(provider, message, {
      status,
      code: tooLong ? 'context_length_exceeded' : undefined,
      fallback: tooLong || status === 401 || status === 403 || status === 404 || undefined,
      retryAfterMs: retryDelayOf(err.message),
      cause: err,
    });
  }
  if (err instanceof Error && err.name === 'AbortError') return err;
  return new ProviderError(provider, 'upstream unreachable', { code: 'upstream_unreachable', cause: err });
}

function extractMessage(raw: string): string {
  try {
    const body = JSON.parse(raw.slice(raw.indexOf('{'))) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message.split('\n')[0]!.slice(0, 300);
  } catch {
    // not JSON
  }
  return raw.split('\n')[0]!.slice(0, 300);
}

/** Gemini puts the retry hint in the body (`RetryInfo.retryDelay: "7s"`), not in a header. */
function retryDelayOf(raw: string): number | undefined {
  const match = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(raw);
  return match ? parseRetryAfter(match[1]) : undefined;
}
