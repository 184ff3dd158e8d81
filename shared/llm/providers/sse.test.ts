import { afterEach, describe, expect, it, vi } from 'vitest';
import { batchesOf, primedBatches, SseParser, sseBatches, sseMessages } from './sse.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('SseParser', () => {
  it('cuts events at blank lines, whatever the line ends and wherever the reads split', () => {
    const text =
      ': comment\n\ndata: {"a":1}\n\nevent: error\r\ndata: line one\r\ndata: line two\r\n\r\nid: 7\rdata:x\r\r' +
      'data: é\n\nretry: 10\n\n';
    const whole = bytes(text);
    for (const cut of [1, 2, 3, 7, 64]) {
      const parser = new SseParser();
      const out = [];
      for (let at = 0; at < whole.length; at += cut) out.push(...parser.push(whole.subarray(at, at + cut)));
      out.push(...parser.end());
      expect(out).toEqual([
        { data: '{"a":1}' },
        { event: 'error', data: 'line one\nline two' },
        { data: 'x' },
        { data: 'é' },
      ]);
    }
  });

  it('a last event without its blank line still counts at the end', () => {
    const parser = new SseParser();
    expect(parser.push(bytes('data: a\n\ndata: b'))).toEqual([{ data: 'a' }]);
    expect(parser.end()).toEqual([{ data: 'b' }]);
  });
});

describe('sseMessages', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('one idle timer per stream: a read left waiting past idleMs ends it, and the body is cancelled', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        cancelled = true;
      },
    });
    const messages = sseMessages('fake', new Response(body), 500, new AbortController().signal);
    controller.enqueue(bytes('data: 1\n\n'));
    expect((await messages.next()).value).toEqual({ data: '1' });
    // Our own time between reads is not the upstream's silence.
    await vi.advanceTimersByTimeAsync(800);
    controller.enqueue(bytes('data: 2\n\n'));
    expect((await messages.next()).value).toEqual({ data: '2' });
    expect(vi.getTimerCount()).toBe(1);
    const stalled = expect(messages.next()).rejects.toThrow('upstream sent nothing for 500 ms');
    await vi.advanceTimersByTimeAsync(500);
    await stalled;
    expect(cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

/** A body whose reads are exactly `reads`. */
const bodyOf = (reads: string[]) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start: (c) => {
        for (const read of reads) c.enqueue(bytes(read));
        c.close();
      },
    }),
  );

const all = async <T>(items: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};

describe('sseBatches', () => {
  it('one batch per upstream read, with the events it completed; a read completing none gives none', async () => {
    const res = bodyOf(['data: 1\n\ndata: 2\n\nda', 'ta: 3', '\n\n: ping\n\n', 'data: 4']);
    const batches = await all(sseBatches('fake', res, 1000, new AbortController().signal));
    expect(batches).toEqual([[{ data: '1' }, { data: '2' }], [{ data: '3' }], [{ data: '4' }]]);
  });
});

describe('primedBatches and batchesOf', () => {
  it('the first batch is read at once; a writer gets the batches, anyone else the items one by one', async () => {
    let reads = 0;
    async function* source() {
      reads++;
      yield [1, 2];
      reads++;
      yield [3];
    }
    const primed = await primedBatches(source());
    expect(reads).toBe(1);
    expect(await all(batchesOf(primed))).toEqual([[1, 2], [3]]);
    expect(await all((await primedBatches(source())) as AsyncIterable<number>)).toEqual([1, 2, 3]);
    // Any other iterable: one item a batch.
    expect(await all(batchesOf(source()))).toEqual([[[1, 2]], [[3]]]);
  });
});
