import { ProviderError } from '../provider-error.ts';
import type { ResolvedModel } from '../registry.ts';
import { geminiEmbed } from './gemini/gemini-embed.ts';
import { openAIEmbed } from './openai/openai-embed.ts';
import { settingsFor } from './settings.ts';
import type { CallOptions, EmbedFormat, EmbedInputs, EmbedResult } from './types.ts';

/**
 * One vector per input, in order, from a resolved model's provider; `format`: written in it where
 * the provider can send the upstream's own text (OpenAI types), as numbers otherwise (Gemini's
 * are translated by the route). Apart from providerFor
 * (providers/index.ts) so the embed function's bundle carries no chat translation or stream code.
 */
export function embedWith(
  target: ResolvedModel,
  upstreamModel: string,
  inputs: EmbedInputs,
  options: CallOptions & { dimensions?: number; format?: EmbedFormat },
): Promise<EmbedResult> {
  const type = target.provider.type;
  const settings = settingsFor(target);
  if (type === 'gemini') return geminiEmbed(settings, upstreamModel, inputs, options);
  if (type === 'anthropic') {
    return Promise.reject(
      new ProviderError(
        settings.id,
        'Anthropic has no embeddings API: route embeddings to an OpenAI or Gemini model.',
        { status: 400, code: 'embeddings_not_supported', retryable: false, fallback: false },
      ),
    );
  }
  return openAIEmbed(settings, type, upstreamModel, inputs, options);
}
