import { ProviderError } from '../../provider-error.ts';
import { maxBytes } from '../http.ts';
import { parseUpstream } from '../openai/openai-bodies.ts';
import { readJson } from '../openai/openai-http.ts';
import type { CallOptions, EmbedInputs, EmbedResult, ProviderSettings } from '../types.ts';
import { geminiRequest, modelPath } from './gemini-http.ts';
import { batchEmbedResponseSchema } from './gemini-wire.ts';

/** `batchEmbedContents`: one vector per text, in order. */
export async function geminiEmbed(
  settings: ProviderSettings,
  upstreamModel: string,
  input: EmbedInputs,
  options: CallOptions & { dimensions?: number },
): Promise<EmbedResult> {
  const provider = settings.id;
  if (!('texts' in input)) throw tokenInputUnsupported(provider);
  const inputs = input.texts;
  const model = modelPath(upstreamModel);
  const body = {
    requests: inputs.map((text) => ({
      model,
      content: { parts: [{ text }] },
      ...(options.dimensions ? { outputDimensionality: options.dimensions } : {}),
    })),
  };
  const res = await geminiRequest(settings, upstreamModel, 'batchEmbedContents', body, options);
  const parsed = parseUpstream(
    provider,
    batchEmbedResponseSchema(),
    await readJson(provider, res, options.signal, maxBytes(settings)),
  );
  const vectors = (parsed.embeddings ?? []).map((e) => e.values ?? []);
  if (vectors.length !== inputs.length) {
    throw new ProviderError(
      provider,
      `Gemini returned ${vectors.length} embeddings for ${inputs.length} inputs`,
      {
        status: 502,
      },
    );
  }
  // The Gemini API reports no token usage for embeddings.
  return { vectors, promptTokens: 0 };
}

/** Gemini embeds text only: token ids made by OpenAI's tokenizer mean nothing to it. */
function tokenInputUnsupported(provider: string): ProviderError {
  return new ProviderError(
    provider,
    'Token-id input needs an OpenAI or OpenAI-compatible embedding model; Gemini embeds text only.',
    { status: 400, code: 'token_input_unsupported', retryable: false, fallback: false },
  );
}
