import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../provider-error.ts';
import { openAIEmbed } from './openai-embed.ts';

/** openAIEmbed against an upstream that answers `text` as is. */
const embed = (text: string, type: 'openai' | 'openai_compatible' = 'openai_compatible') =>
  openAIEmbed(
    {
      id: 'up',
      apiKey: undefined,
      baseURL: 'http://upstream.invalid/v1',
      timeoutMs: 1000,
      fetch: async () => new Response(text, { headers: { 'content-type': 'application/json' } }),
    },
    type,
    'm',
    { texts: ['a', 'b'] },
    { signal: new AbortController().signal, headers: {} },
  );

describe('openAIEmbed: the upstream float texts, read once', () => {
  it('keeps each vector as the upstream wrote it, in index order, beside the parsed floats', async () => {
    const r = await embed(
      '{"data": [{"index": 1, "embedding" : [ 1.50, -2e-3 ], "object":"embedding"},' +
        '{"object":"embedding","index":0,"embedding":[0.25,3]}],"usage":{"prompt_tokens":4}}',
    );
    expect(r.vectors).toEqual([
      [0.25, 3],
      [1.5, -0.002],
    ]);
    expect(r.floatTexts).toEqual(['[0.25,3]', '[ 1.50, -2e-3 ]']);
    expect(r.floatTexts!.map((t) => JSON.parse(t))).toEqual(r.vectors);
    expect(r.promptTokens).toBe(4);
  });

  it('gives no texts when another "embedding" key could be mistaken for a vector', async () => {
    const r = await embed(
      '{"data":[{"index":0,"meta":{"embedding":[9]},"embedding":[1]},{"index":1,"embedding":[2]}]}',
    );
    expect(r.vectors).toEqual([[1], [2]]);
    expect(r.floatTexts).toBeUndefined();
    const escaped = await embed('{"x\\"embedding":[7],"data":[{"index":0,"embedding":[1]}]}');
    expect(escaped.vectors).toEqual([[1]]);
    expect(escaped.floatTexts).toBeUndefined();
  });

  it('gives no texts when an item spells its key with an escape (the text found is not that vector)', async () => {
    // JSON.parse reads `embedd\u0069ng` as `embedding`; a text search sees only the other key.
    const r = await embed('{"data":[{"index":0,"embedd\\u0069ng":[1]}],"extra":{"embedding":[[9],"x"]}}');
    expect(r.vectors).toEqual([[1]]);
    expect(r.floatTexts).toBeUndefined();
  });

  it('base64 vectors are decoded and give no texts', async () => {
    const b64 = Buffer.from(new Float32Array([0.5, -1]).buffer).toString('base64');
    const r = await embed(`{"data":[{"index":0,"embedding":"${b64}"}]}`, 'openai');
    expect(r.vectors).toEqual([[0.5, -1]]);
    expect(r.floatTexts).toBeUndefined();
  });

  it.each([
    ['a number as a string', '{"data":[{"index":0,"embedding":[1,"2"]}]}'],
    ['a float past the float range', '{"data":[{"index":0,"embedding":[1e999]}]}'],
    ['a null in the vector', '{"data":[{"index":0,"embedding":[null]}]}'],
    ['no data array', '{"data":{"index":0}}'],
    ['an index that is not an integer', '{"data":[{"index":0.5,"embedding":[1]}]}'],
    ['an embedding that is an object', '{"data":[{"index":0,"embedding":{"0":1}}]}'],
    ['usage tokens as a string', '{"data":[],"usage":{"prompt_tokens":"3"}}'],
  ])('%s is a 502, not an answer', async (_, text) => {
    const err = await embed(text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(502);
  });
});
