import OpenAI from 'openai';
import { ProviderError, parseRetryAfter } from '../../provider-error.ts';
import type { CallOptions, ChatChunk, ChatCompletion, ChatProvider, ProviderSettings } from '../types.ts';

/**
 * OpenAI and any OpenAI-compatible server (LiteLLM, Ollama, vLLM, llama.cpp) through the `openai`
 * SDK with its own retries off: the router decides about retries and fallbacks.
 */
export function createOpenAIProvider(
  settings: ProviderSettings,
  type: 'openai' | 'openai_compatible',
): ChatProvider {
  const client = new OpenAI({
    apiKey: settings.apiKey ?? 'unused',
    baseURL: settings.baseURL,
    maxRetries: 0,
    timeout: settings.timeoutMs,
    ...(settings.fetch ? { fetch: settings.fetch } : {}),
  });
  const provider = settings.id;
  return {
    type,
    async embed(upstreamModel, inputs, options) {
      try {
        const res = await client.embeddings.create(
          {
            model: upstreamModel,
            input: inputs,
            encoding_format: 'float',
            ...(options.dimensions ? { dimensions: options.dimensions } : {}),
          },
          requestOptions(options),
        );
        const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding as number[]);
        return { vectors, promptTokens: res.usage?.prompt_tokens ?? 0 };
      } catch (err) {
        throw mapOpenAIError(provider, err);
      }
    },
    async chat(upstreamModel, request, options) {
      try {
        const body = { ...request, model: upstreamModel, stream: false };
        return (await client.chat.completions.create(
          body as never,
          requestOptions(options),
        )) as unknown as ChatCompletion;
      } catch (err) {
        throw mapOpenAIError(provider, err);
      }
    },
    async chatStream(upstreamModel, request, options) {
      try {
        const body = {
          ...request,
          model: upstreamModel,
          stream: true,
          stream_options: { ...((request.stream_options as object) ?? {}), include_usage: true },
        };
        const stream = (await client.chat.completions.create(
          body as never,
          requestOptions(options),
        )) as unknown as AsyncIterable<ChatChunk>;
        return await primed(stream, provider, settings.timeoutMs);
      } catch (err) {
        throw mapOpenAIError(provider, err);
      }
    },
  };
}

function requestOptions(options: CallOptions) {
  return { signal: options.signal, headers: options.headers };
}

/**
 * Reads the first chunk now, so a failure to start surfaces before any byte reaches the caller;
 * every chunk must arrive within `idleMs`, so a stalled stream ends instead of hanging.
 */
async function primed(
  stream: AsyncIterable<ChatChunk>,
  provider: string,
  idleMs: number,
): Promise<AsyncIterable<ChatChunk>> {
  const source = stream[Symbol.asyncIterator]();
  const iterator = {
    next: () => withIdleTimeout(source.next(), idleMs, provider),
  };
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        if (!first.done) yield first.value;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield next.value;
        }
      } catch (err) {
        throw mapOpenAIError(provider, err);
      }
    },
  };
}

export function mapOpenAIError(provider: string, err: unknown): ProviderError | unknown {
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIUserAbortError) return err;
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderError(provider, 'upstream timed out', { code: 'upstream_timeout', cause: err });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new ProviderError(provider, 'upstream unreachable', { code: 'upstream_unreachable', cause: err });
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status;
    const upstreamCode = String((err.error as { code?: unknown } | undefined)?.code ?? err.code ?? '');
    const contextTooLong = upstreamCode === 'context_length_exceeded';
    const credential = status === 401 || status === 403;
    const missingModel = status === 404;
    return new ProviderError(provider, upstreamMessage(err), {
      status,
      code: contextTooLong ? 'context_length_exceeded' : undefined,
      retryAfterMs: parseRetryAfter(err.headers?.get?.('retry-after')),
      fallback: contextTooLong || credential || missingModel || undefined,
      cause: err,
    });
  }
  return new ProviderError(provider, 'upstream failed', { cause: err });
}

/** The upstream's own message, first line only; the redactor scrubs it again before it is shown. */
function upstreamMessage(err: InstanceType<typeof OpenAI.APIError>): string {
  const message = (err.error as { message?: unknown } | undefined)?.message;
  return (typeof message === 'string' ? message : err.message).split('\n')[0]!.slice(0, 300);
}

function withIdleTimeout<T>(promise: Promise<T>, ms: number, provider: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ProviderError(provider, `upstream sent nothing for ${ms} ms`, { code: 'upstream_timeout' }),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
