import { describe, expect, it } from 'vitest';
import { endWatch, OPENAI_STREAM_END } from '../../bench/lib/stream-client.ts';

// The bench's stream cells and bench:instructions count a stream only once it has sent its end
// marker: a stream broken mid-way still answers 200, ending in ours' `event: error`.
describe('endWatch (a stream counts once it has ended)', () => {
  const fed = (marker: string, chunks: string[]) => {
    const end = endWatch(marker);
    for (const c of chunks) end.feed(Buffer.from(c));
    return end.ended;
  };

  it('sees the marker whole, split across two chunks, and split across three', () => {
    expect(fed(OPENAI_STREAM_END, ['data: {"a":1}\n\ndata: [DONE]\n\n'])).toBe(true);
    expect(fed(OPENAI_STREAM_END, ['data: {"a":1}\n\ndata: [DO', 'NE]\n\n'])).toBe(true);
    expect(fed(OPENAI_STREAM_END, ['data: {"a":1}\n\nda', 'ta: [D', 'ONE]\n\n'])).toBe(true);
  });

  it('sees a marker at the start of a long last event', () => {
    const marker = '"response.completed"';
    expect(
      fed(marker, ['event: x\n\n', `data: {"type":"response.completed","r":"${'x'.repeat(100_000)}"}\n\n`]),
    ).toBe(true);
  });

  it('does not count a stream that broke mid-way', () => {
    const broken = [
      'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
      'event: error\ndata: {"error":{"message":"Upstream stream failed"}}\n\n',
    ];
    expect(fed(OPENAI_STREAM_END, broken)).toBe(false);
    expect(fed(OPENAI_STREAM_END, [])).toBe(false);
  });
});
