import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../provider-error.ts';
import type { EmbedFormat } from '../types.ts';
import { openAIEmbed } from './openai-embed.ts';

/** openAIEmbed against an upstream that answers `text` as is. */
const embed = (
  text: string,
  type: 'openai' | 'openai_compatible' = 'openai_compatible',
  format: EmbedFormat | null = 'float', // null: no format asked
) =>
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
    { signal: new AbortController().signal, headers: {}, format: format ?? undefined },
  );

describe('openAIEmbed: the upstream float texts, read once', () => {
  const body =
    '{"data": [{"index": 1, "embedding" : [ 1.50, -2e-3 ], "object":"embedding"},' +
    '{"object":"embedding","index":0,"embedding":[0.25,3]}],"usage":{"prompt_tokens":4}}';

  it('asked for floats: each vector as the upstream wrote it, in index order', async () => {
    const r = await embed(body);
    expect(r.written).toEqual({ format: 'float', items: ['[0.25,3]', '[ 1.50, -2e-3 ]'] });
    expect(r.vectors).toBeUndefined();
    expect(r.promptTokens).toBe(4);
  });

  it('asked for no format (or base64, from float vectors): the numbers, in index order', async () => {
    for (const format of [null, 'base64'] as const) {
      const r = await embed(body, 'openai_compatible', format);
      expect(r.vectors).toEqual([
        [0.25, 3],
        [1.5, -0.002],
      ]);
      expect(r.written).toBeUndefined();
      expect(r.promptTokens).toBe(4);
    }
  });

  it('gives no texts when another "embedding" key could be mistaken for a vector', async () => {
    const r = await embed(
      '{"data":[{"index":0,"meta":{"embedding":[9]},"embedding":[1]},{"index":1,"embedding":[2]}]}',
    );
    expect(r.vectors).toEqual([[1], [2]]);
    expect(r.written).toBeUndefined();
    const escaped = await embed('{"x\\"embedding":[7],"data":[{"index":0,"embedding":[1]}]}');
    expect(escaped.vectors).toEqual([[1]]);
    expect(escaped.written).toBeUndefined();
  });

  it('gives no texts when an item spells its key with an escape (the text found is not that vector)', async () => {
    // JSON.parse reads `embedd\u0069ng` as `embedding`; a text search sees only the other key.
    const r = await embed('{"data":[{"index":0,"embedd\\u0069ng":[1]}],"extra":{"embedding":[[9],"x"]}}');
    expect(r.vectors).toEqual([[1]]);
    expect(r.written).toBeUndefined();
  });
});

describe('openAIEmbed: float texts checked in place, the rest parsed', () => {
  it('takes OpenAI-style pretty-printed arrays as they are, with the usage from the rest', async () => {
    const vector = '[\n        -0.006929283495992422,\n        1.5E+2,\n        0\n      ]';
    const r = await embed(
      `{\n  "object": "list",\n  "data": [\n    {\n      "object": "embedding",\n      "index": 0,\n      "embedding": ${vector}\n    }\n  ],\n  "usage": {"prompt_tokens": 7, "total_tokens": 7}\n}\n`,
    );
    expect(r.written).toEqual({ format: 'float', items: [vector] });
    expect(r.promptTokens).toBe(7);
  });

  it('an item with its key twice: the body is parsed whole (JSON.parse keeps the last)', async () => {
    const r = await embed(
      '{"data":[{"index":0,"embedding":[1],"embedding":[2]},{"index":1,"embedding":[3]}]}',
    );
    expect(r.written).toBeUndefined();
    expect(r.vectors).toEqual([[2], [3]]);
  });

  it.each([
    ['spaced', '[1e-120, 1000000000000000000000]'],
    // As JSON.stringify writes it: the check without white space, tried first, bounds them too.
    ['unspaced', '[1e-120,1000000000000000000000]'],
  ])('finite numbers past what the check takes (%s) are parsed and sent as numbers', async (_, vector) => {
    const r = await embed(`{"data":[{"index":0,"embedding":${vector}}]}`);
    expect(r.written).toBeUndefined();
    expect(r.vectors).toEqual([[1e-120, 1e21]]);
  });

  it.each([
    ['a non-JSON space inside an array', '[1,\u00a02]'],
    ['a leading zero', '[01]'],
    ['a bare point', '[1.]'],
    ['no integer part', '[.5]'],
    ['a plus sign', '[+1]'],
    ['a trailing comma', '[1,]'],
    ['a missing number', '[1,,2]'],
    ['two numbers unseparated', '[1 2]'],
    ['NaN', '[NaN]'],
    ['an empty exponent', '[1e]'],
    ['a nested array', '[[1],2]'],
  ])('%s in a vector is a 502, as parsed whole', async (_, vector) => {
    const err = await embed(`{"data":[{"index":0,"embedding":${vector}}]}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(502);
  });

  it.each([
    ['a trailing comma after the data', '{"data":[{"index":0,"embedding":[1]}],}'],
    ['an item missing its vector', '{"data":[{"index":0,"embedding":[1]},{"index":1}]}'],
    ['a key that is not a string', '{"data":[{"index":0,"embedding":[1]}],usage:{}}'],
  ])('%s around good vectors is a 502, as parsed whole', async (_, text) => {
    const err = await embed(text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(502);
  });
});

describe('openAIEmbed: base64 vectors', () => {
  const b64 = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString('base64');
  const answer = (...items: string[]) =>
    `{"data":[${items.map((e, i) => `{"index":${items.length - 1 - i},"embedding":"${e}"}`).join(',')}]}`;

  it('asked for base64: the upstream strings themselves, in index order', async () => {
    const r = await embed(answer(b64([0.5, -1]), b64([2, 0.25])), 'openai', 'base64');
    expect(r.written).toEqual({ format: 'base64', items: [b64([2, 0.25]), b64([0.5, -1])] });
    expect(r.vectors).toBeUndefined();
  });

  it('a string that is not canonical base64 is decoded (the route writes it again)', async () => {
    const unpadded = b64([0.5]).replace(/=+$/, '');
    const r = await embed(answer(b64([2]), unpadded), 'openai', 'base64');
    expect(r.written).toBeUndefined();
    expect(r.vectors).toEqual([[0.5], [2]]);
  });

  it('asked for floats or for numbers: decoded', async () => {
    for (const format of ['float', null] as const) {
      const r = await embed(answer(b64([0.5, -1])), 'openai', format);
      expect(r.vectors).toEqual([[0.5, -1]]);
      expect(r.written).toBeUndefined();
    }
  });
});

describe('openAIEmbed: what is not an answer', () => {
  it.each([
    ['a number as a string', '{"data":[{"index":0,"embedding":[1,"2"]}]}'],
    ['a float past the float range', '{"data":[{"index":0,"embedding":[1e999]}]}'],
    ['a null in the vector', '{"data":[{"index":0,"embedding":[null]}]}'],
    ['no data array', '{"data":{"index":0}}'],
    ['an index that is not an integer', '{"data":[{"index":0.5,"embedding":[1]}]}'],
    ['an embedding that is an object', '{"data":[{"index":0,"embedding":{"0":1}}]}'],
    ['usage tokens as a string', '{"data":[],"usage":{"prompt_tokens":"3"}}'],
    ['an embedding that is not base64', '{"data":[{"index":0,"embedding":"not base64!"}]}'],
    ['an embedding not whole float32s', '{"data":[{"index":0,"embedding":"AQID"}]}'],
    ['a body that is not JSON', '{"data":[{"index":0,"embedding":[1]}]'],
  ])('%s is a 502 whatever the format asked', async (_, text) => {
    for (const format of ['float', 'base64', null] as const) {
      const err = await embed(text, 'openai_compatible', format).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).status).toBe(502);
    }
  });
});
