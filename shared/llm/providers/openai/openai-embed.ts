import { decodeFloat32Base64, isCanonicalFloat32Base64 } from '../../embeddings-base64.ts';
import { ProviderError } from '../../provider-error.ts';
import type { CallOptions, EmbedFormat, EmbedInputs, EmbedResult, ProviderSettings } from '../types.ts';
import { readJsonText, upstreamRequest } from './openai-http.ts';

/**
 * `/embeddings` on OpenAI or an OpenAI-compatible server: one vector per input, in order. With a
 * `format`, the vectors come back written in it, as the upstream wrote them, whenever the
 * upstream's answer is in that format already and passes the checks; otherwise as numbers.
 */
export async function openAIEmbed(
  settings: ProviderSettings,
  type: 'openai' | 'openai_compatible',
  upstreamModel: string,
  input: EmbedInputs,
  options: CallOptions & { dimensions?: number; format?: EmbedFormat },
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
  const { text, json } = await readJsonText(provider, res, options.signal);
  const data = checkEmbeddings(provider, json);
  const order = data.map((_, i) => i).sort((a, b) => data[a]!.index - data[b]!.index);
  const usage = (json as { usage?: { prompt_tokens?: number } | null }).usage;
  const promptTokens = usage?.prompt_tokens ?? 0;
  const items = options.format && writtenAs(options.format, text, data);
  if (items)
    return { written: { format: options.format!, items: order.map((i) => items[i]!) }, promptTokens };
  const vectors = order.map((i) => {
    const e = data[i]!.embedding;
    return typeof e === 'string' ? fromBase64(provider, e) : e;
  });
  return { vectors, promptTokens };
}

/**
 * Each item's vector as the upstream wrote it in `format`, in `data`'s order, if every item has
 * one that can be sent on as is: base64 strings exactly as `encodeFloat32Base64` would write
 * them, or each float array's text (`floatSpans`).
 */
function writtenAs(format: EmbedFormat, text: string, data: Item[]): string[] | undefined {
  if (format === 'float') return floatSpans(text, data.length);
  const strings = data.map((d) => d.embedding);
  return strings.every((e) => typeof e === 'string' && isCanonicalFloat32Base64(e))
    ? (strings as string[])
    : undefined;
}

type Item = { index: number; embedding: number[] | string };

/**
 * The shape we rely on, checked by hand: a 1536-float vector through zod was most of the
 * embed route's CPU (issue #23). Every number is still checked to be a finite number.
 */
function checkEmbeddings(provider: string, json: unknown): Item[] {
  const bad = (where: string, what: string) =>
    new ProviderError(provider, `upstream sent an unexpected body (${where}: ${what})`, { status: 502 });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('root', 'not an object');
  const { data, usage } = json as { data?: unknown; usage?: unknown };
  if (!Array.isArray(data)) throw bad('data', 'not an array');
  if (usage !== undefined && usage !== null) {
    if (typeof usage !== 'object' || Array.isArray(usage)) throw bad('usage', 'not an object');
    const tokens = (usage as { prompt_tokens?: unknown }).prompt_tokens;
    if (tokens !== undefined && typeof tokens !== 'number') throw bad('usage.prompt_tokens', 'not a number');
  }
  data.forEach((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw bad(`data.${i}`, 'not an object');
    const { index, embedding } = item as { index?: unknown; embedding?: unknown };
    if (!Number.isInteger(index)) throw bad(`data.${i}.index`, 'not an integer');
    if (typeof embedding === 'string') return;
    if (!Array.isArray(embedding)) throw bad(`data.${i}.embedding`, 'not an array or a string');
    for (const x of embedding) {
      if (typeof x !== 'number' || !Number.isFinite(x))
        throw bad(`data.${i}.embedding`, 'not a finite number');
    }
  });
  return data as Item[];
}

/**
 * Each item's `embedding` array as the upstream wrote it, in `data`'s order, so the route can
 * send them on without serialising the floats again; undefined unless every `"embedding":` key
 * in the text is one of the `count` items' and holds an array. The body already parsed, so a
 * `"embedding"` followed by `:` is a key (an escaped quote inside a longer key can add a match:
 * then the count is off and the floats are serialised as before). Floats hold no `]`. A text
 * with any backslash gets none: an escape can spell a key (`"embedd\u0069ng"`) that JSON.parse
 * reads as an item's `embedding` but the search does not see, so the count could still match
 * with some other, unvalidated `"embedding"` array's text standing in for that item's vector.
 */
function floatSpans(text: string, count: number): string[] | undefined {
  if (text.includes('\\')) return undefined;
  const spans: string[] = [];
  const key = /"embedding"\s*:\s*/g;
  for (let m = key.exec(text); m; m = key.exec(text)) {
    const start = m.index + m[0].length;
    if (text[start] !== '[' || spans.length === count) return undefined;
    const end = text.indexOf(']', start);
    if (end < 0) return undefined;
    spans.push(text.slice(start, end + 1));
    key.lastIndex = end + 1;
  }
  return spans.length === count ? spans : undefined;
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
