import { afterEach, describe, expect, it, vi } from 'vitest';
import { SseParser, sseMessages } from './sse.ts';

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
