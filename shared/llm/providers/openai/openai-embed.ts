import { decodeFloat32Base64, isCanonicalFloat32Base64 } from '../../embeddings-base64.ts';
import { ProviderError } from '../../provider-error.ts';
import { maxBytes } from '../http.ts';
import type { CallOptions, EmbedFormat, EmbedInputs, EmbedResult, ProviderSettings } from '../types.ts';
import { parseJsonBody, readBodyText, upstreamRequest } from './openai-http.ts';

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
  const text = await readBodyText(provider, res, options.signal, maxBytes(settings));
  const floats = options.format === 'float' ? floatsAsWritten(text) : undefined;
  if (floats) return floats;
  const { data, order, promptTokens } = checkEmbeddings(provider, parseJsonBody(provider, text));
  const strings = order.map((i) => data[i]!.embedding);
  if (
    options.format === 'base64' &&
    strings.every((e) => typeof e === 'string' && isCanonicalFloat32Base64(e))
  ) {
    // What the route would write for these floats, to the byte: sent on as they are.
    return { written: { format: 'base64', items: strings as string[] }, promptTokens };
  }
  const vectors = strings.map((e) => (typeof e === 'string' ? fromBase64(provider, e) : e));
  return { vectors, promptTokens };
}

type Item = { index: number; embedding: number[] | string };

/**
 * The shape we rely on, checked by hand: a 1536-float vector through zod was most of the
 * embed route's CPU (issue #23). Every number is still checked to be a finite number.
 */
function checkEmbeddings(
  provider: string,
  json: unknown,
): { data: Item[]; order: number[]; promptTokens: number } {
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
  const items = data as Item[];
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.index - items[b]!.index);
  return {
    data: items,
    order,
    promptTokens: (usage as { prompt_tokens?: number } | null)?.prompt_tokens ?? 0,
  };
}

/**
 * Floats asked for and sent: each item's `embedding` array as the upstream wrote it, in index
 * order, with the numbers checked in place by `FLOATS` and only the rest of the body parsed (the
 * text with each array cut to `[]`): JSON.parse over the 1536 numbers was most of an embeddings
 * request's own CPU after the float texts stopped being written again (issue #23). Undefined, and
 * the body parsed whole as before (with its errors), at any doubt:
 * - a backslash anywhere: an escape can spell a key (`"embedd\u0069ng"`) that JSON.parse reads
 *   as an item's `embedding` but the search below does not see;
 * - an array that `FLOATS` does not take, or a rest that is not JSON or not an answer's shape;
 * - more `"embedding":` keys than items (another object's key, or an item's twice).
 * Why what is left is sound: without backslashes every `"` opens or closes a string, so in a rest
 * that parses, each `"embedding"` followed by `:` is a key (were its first quote a closing one,
 * `embedding` would stand bare outside a string) whose value is the `[]` put there. Every item's
 * own `embedding` is such a key (an array: a string would not have matched `[`), and there are as
 * many keys as items, so the k-th key is the k-th item's: the arrays are the items' vectors.
 */
function floatsAsWritten(text: string): EmbedResult | undefined {
  if (text.includes('\\')) return undefined;
  const spans: string[] = [];
  let rest = '';
  let last = 0;
  const key = /"embedding"\s*:\s*/g;
  for (let m = key.exec(text); m; m = key.exec(text)) {
    const start = m.index + m[0].length;
    const end = text[start] === '[' ? text.indexOf(']', start) : -1;
    if (end < 0) return undefined;
    const span = text.slice(start, end + 1);
    if (!FLOATS_UNSPACED.test(span) && !FLOATS.test(span)) return undefined;
    spans.push(span);
    rest += `${text.slice(last, start)}[]`;
    last = key.lastIndex = end + 1;
  }
  if (spans.length === 0) return undefined;
  let answer: ReturnType<typeof checkEmbeddings>;
  try {
    answer = checkEmbeddings('', JSON.parse(rest + text.slice(last)));
  } catch {
    return undefined;
  }
  if (answer.data.length !== spans.length) return undefined;
  return {
    written: { format: 'float', items: answer.order.map((i) => spans[i]!) },
    promptTokens: answer.promptTokens,
  };
}

/**
 * A JSON array of one or more numbers that JSON.parse reads as finite numbers, with JSON's own
 * white space only: an integer part of at most 20 digits and an exponent of at most 2 (leading
 * zeros aside) keep every value under 1e120, where 1e999 would parse as Infinity. A float32 needs
 * neither more; an array this refuses is parsed and checked as before.
 */
const NUMBER = '-?(?:0|[1-9][0-9]{0,19})(?:\\.[0-9]+)?(?:[eE][-+]?0*[0-9]{1,2})?';
const WS = '[ \\t\\n\\r]*';
const FLOATS = new RegExp(`^\\[${WS}(?:${NUMBER}${WS},${WS})*${NUMBER}${WS}\\]$`);
/**
 * `FLOATS` without its white space, tried first: an array written as `JSON.stringify` writes it
 * (the usual upstream) is checked in half the time (a 1,536-float vector on Node 24: 22 µs
 * against 44; the three white-space runs per number are most of a match's steps). It takes a
 * subset of what `FLOATS` takes, so an array it refuses is tried against `FLOATS` as before (a
 * pretty-printed one fails it at its first white space, a few characters in).
 */
const FLOATS_UNSPACED = new RegExp(`^\\[(?:${NUMBER},)*${NUMBER}\\]$`);

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
