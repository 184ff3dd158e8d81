import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../provider-error.ts';
import { rawChunkText, sseChunkBatches } from './openai-sse.ts';

/** A body whose reads are exactly `reads`, and whether it was cancelled. */
function upstream(reads: string[]) {
  const state = { cancelled: false };
  const queue = reads.map((r) => new TextEncoder().encode(r));
  const body = new ReadableStream<Uint8Array>({
    pull: (c) => {
      const next = queue.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
    cancel: () => {
      state.cancelled = true;
    },
  });
  return { batches: sseChunkBatches('up', new Response(body), 1000, new AbortController().signal), state };
}

describe('sseChunkBatches', () => {
  it('the chunks of each read together, each keeping the text it came as; [DONE] ends it and lets the body go', async () => {
    const { batches, state } = upstream([
      'data: {"a":1}\n\ndata: {"a": 2}\n\n',
      'data: {"a":3}\n\ndata: [DONE]\n\ndata: {"a":4}\n\n',
      'data: {"a":5}\n\n',
    ]);
    const got = [];
    for await (const batch of batches) got.push(batch);
    expect(got).toEqual([[{ a: 1 }, { a: 2 }], [{ a: 3 }]]);
    expect(rawChunkText(got[0]![1]!)).toBe('{"a": 2}');
    expect(state.cancelled).toBe(true);
  });

  it('an error event: the chunks before it in its read are given, then the error is thrown', async () => {
    const { batches, state } = upstream([
      'data: {"a":1}\n\n',
      'data: {"a":2}\n\nevent: error\ndata: {"error":{"message":"overloaded"}}\n\ndata: {"a":3}\n\n',
      'data: {"a":4}\n\n',
    ]);
    expect((await batches.next()).value).toEqual([{ a: 1 }]);
    expect((await batches.next()).value).toEqual([{ a: 2 }]);
    const err = await batches.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toContain('overloaded');
    expect(state.cancelled).toBe(true);
  });

  it('a chunk that is not JSON first in its read is thrown at once (a 502)', async () => {
    const { batches } = upstream(['data: {"a":1}\n\n', 'data: nope\n\n']);
    await batches.next();
    const err = await batches.next().catch((e: unknown) => e);
    expect((err as ProviderError).status).toBe(502);
  });
});
