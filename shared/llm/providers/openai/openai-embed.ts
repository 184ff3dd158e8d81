import { decodeFloat32Base64 } from '../../embeddings-base64.ts';
import { ProviderError } from '../../provider-error.ts';
import type { CallOptions, EmbedInputs, EmbedResult, ProviderSettings } from '../types.ts';
import { embeddingsSchema, parseUpstream } from './openai-bodies.ts';
import { readJson, upstreamRequest } from './openai-http.ts';

/** `/embeddings` on OpenAI or an OpenAI-compatible server: one vector per input, in order. */
export async function openAIEmbed(
  settings: ProviderSettings,
  type: 'openai' | 'openai_compatible',
  upstreamModel: string,
  input: EmbedInputs,
  options: CallOptions & { dimensions?: number },
): Promise<EmbedResult> {
  const provider = settings.id;
  // OpenAI itself sends base64 (a quarter of the bytes and no float parsing, as its SDKs
  // ask by default); OpenAI-compatible servers do not all speak it, so they get `float`.
  const encoding = type === 'openai' ? 'base64' : 'float';
  const body = {
    model: upstreamModel,
    input: 'texts' in input ? input.texts : input.single ? input.tokens[0] : input.tokens,
    encoding_format: encoding,
    ...(options.dimensions ? { dimensions: options.dimensions } : {}),
  };
  const res = await upstreamRequest(settings, '/embeddings', body, options);
  const parsed = parseUpstream(provider, embeddingsSchema, await readJson(provider, res, options.signal));
  const vectors = [...parsed.data]
    .sort((a, b) => a.index - b.index)
    .map((d) => (typeof d.embedding === 'string' ? fromBase64(provider, d.embedding) : d.embedding));
  return { vectors, promptTokens: parsed.usage?.prompt_tokens ?? 0 };
}

function fromBase64(provider: string, text: string): number[] {
  try {
    return decodeFloat32Base64(text);
  } catch (err) {
    throw new ProviderError(provider, 'upstream sent an embedding that is not base64 float32', {
      status: 502,
      cause: err,
    });
  }
}
