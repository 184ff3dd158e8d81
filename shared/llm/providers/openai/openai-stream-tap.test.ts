import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProviderError } from '../../provider-error.ts';
import type { Usage } from '../types.ts';
import { openChunkBytes, tapChunkStream } from './openai-stream-tap.ts';

const encoder = new TextEncoder();
const chunk = (content: string) =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}],"usage":null}\n\n`;
const USAGE =
  'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}\n\n';
const DONE = 'data: [DONE]\n\n';

/** An upstream body we drive by hand, and whether its reader cancelled it. */
function upstream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    res: new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    close: () => controller.close(),
    fail: () => controller.error(new TypeError('connection reset')),
    cancelled: () => cancelled,
  };
}

interface Ended {
  usage: Usage | undefined;
  error: unknown;
}

async function tap(up: ReturnType<typeof upstream>, wantsUsage: boolean, idleMs = 60_000) {
  const bytes = await openChunkBytes('fake', up.res, idleMs, new AbortController().signal);
  let ended: Ended | undefined;
  const stream = tapChunkStream(bytes, {
    wantsUsage,
    errorEvent: (err) =>
      `event: error\ndata: ${JSON.stringify({ error: { message: String((err as Error).message) } })}\n\n`,
    onEnd: (usage, error) => {
      ended = { usage, error };
    },
  });
  return { stream, ended: () => ended };
}

/** Every chunk the caller receives, as text. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const decoder = new TextDecoder();
  const out: string[] = [];
  for await (const piece of stream as unknown as AsyncIterable<Uint8Array>) out.push(decoder.decode(piece));
  return out;
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(condition()).toBe(true);
};

describe('OpenAI stream tap', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('onStarted runs once, at the first pull: after the head was taken, not when the stream is made', async () => {
    const up = upstream();
    up.send(chunk('Hel'));
    const bytes = await openChunkBytes('fake', up.res, 60_000, new AbortController().signal);
    let started = 0;
    const stream = tapChunkStream(bytes, {
      wantsUsage: false,
      errorEvent: () => '',
      onEnd: () => undefined,
      onStarted: () => {
        started++;
      },
    });
    const reader = stream.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(chunk('Hel'));
    expect(started).toBe(0);
    // Asking for more is the first pull.
    const second = reader.read();
    await until(() => started === 1);
    up.send(chunk('lo'));
    expect(new TextDecoder().decode((await second).value)).toBe(chunk('lo'));
    up.send(DONE);
    up.close();
    while (!(await reader.read()).done) {}
    expect(started).toBe(1);
  });

  it('forwards the upstream bytes untouched, usage chunk included when the caller asked', async () => {
    const up = upstream();
    const events = [chunk('Hel'), chunk('lo'), USAGE, DONE];
    up.send(events[0]!);
    const opened = tap(up, true);
    for (const e of events.slice(1)) up.send(e);
    up.close();
    const { stream, ended } = await opened;
    expect((await readAll(stream)).join('')).toBe(events.join(''));
    await until(() => ended() !== undefined);
    expect(ended()).toEqual({
      usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
      error: undefined,
    });
  });

  it('withholds the usage-only chunk the gateway asked for, and still counts it', async () => {
    const up = upstream();
    up.send(chunk('Hi') + chunk('!'));
    const opened = tap(up, false);
    up.send(USAGE + DONE);
    up.close();
    const { stream, ended } = await opened;
    expect((await readAll(stream)).join('')).toBe(chunk('Hi') + chunk('!') + DONE);
    await until(() => ended() !== undefined);
    expect(ended()?.usage?.total_tokens).toBe(14);
  });

  it('finds the usage chunk among other events in one read, in ASCII or not', async () => {
    for (const content of ['plain', 'é ü 漢字']) {
      const up = upstream();
      up.send(chunk('first'));
      const opened = tap(up, false);
      up.send(chunk(content) + USAGE + chunk('after') + DONE);
      up.close();
      const { stream, ended } = await opened;
      expect((await readAll(stream)).join('')).toBe(chunk('first') + chunk(content) + chunk('after') + DONE);
      await until(() => ended() !== undefined);
      expect(ended()?.usage?.completion_tokens).toBe(5);
    }
  });

  it('looks at the bytes only: usage:null chunks pass, spaced keys, error objects and error events are found', async () => {
    const spaced =
      'data: {"id":"c1","choices":[], "usage" :\t {"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}\n\n';
    const up = upstream();
    up.send(chunk('漢字 first'));
    const opened = tap(up, false);
    // `"usage":null` in every chunk (OpenAI once usage is asked for) is nothing to look at.
    up.send(`${chunk('é') + spaced}data:[DONE]\n\n`);
    up.close();
    const { stream, ended } = await opened;
    expect((await readAll(stream)).join('')).toBe(`${chunk('漢字 first')}${chunk('é')}data:[DONE]\n\n`);
    await until(() => ended() !== undefined);
    expect(ended()?.usage?.total_tokens).toBe(5);

    for (const bad of [
      'data: {"object":"error","message":"flat error"}\n\n',
      'event:error\ndata: {"message":"named event"}\n\n',
      ': note\r\nevent: error\r\ndata: plain text\r\n\r\n',
    ]) {
      const failing = upstream();
      failing.send(chunk('ü'));
      const t = tap(failing, true);
      failing.send(chunk('b') + bad + chunk('never'));
      const { stream: s } = await t;
      const text = (await readAll(s)).join('');
      expect(text.startsWith(`${chunk('ü') + chunk('b')}event: error\n`)).toBe(true);
      expect(text).not.toContain('never');
    }
  });

  it('sends only whole events: one split across reads goes out once it is complete', async () => {
    const up = upstream();
    const whole = chunk('one') + chunk('two');
    up.send(whole.slice(0, 30));
    up.send(whole.slice(30, chunk('one').length + 10));
    const opened = tap(up, false);
    up.send(whole.slice(chunk('one').length + 10));
    up.send('data: [DO');
    up.send('NE]\r\n\r\n');
    up.close();
    const { stream } = await opened;
    const out = await readAll(stream);
    expect(out.join('')).toBe(`${whole}data: [DONE]\r\n\r\n`);
    for (const piece of out) expect(piece).toMatch(/\n\r?\n$/);
  });

  it('an upstream that breaks mid-event ends with an error event after the last whole event', async () => {
    const up = upstream();
    up.send(chunk('fine'));
    const opened = tap(up, false);
    up.send(chunk('half').slice(0, 40));
    up.fail();
    const { stream, ended } = await opened;
    const text = (await readAll(stream)).join('');
    expect(text.startsWith(chunk('fine'))).toBe(true);
    expect(text.slice(chunk('fine').length)).toMatch(
      /^event: error\ndata: \{"error":\{"message":"upstream connection broke/,
    );
    expect(text).not.toContain('half');
    expect(text).not.toContain('[DONE]');
    await until(() => ended() !== undefined);
    expect(ended()?.error).toBeInstanceOf(ProviderError);
  });

  it("an upstream error event mid-stream becomes the gateway's error event, and the upstream is let go", async () => {
    const up = upstream();
    up.send(chunk('a'));
    const opened = tap(up, false);
    up.send(`${chunk('b')}data: {"error":{"message":"overloaded","type":"server_error"}}\n\n${chunk('c')}`);
    const { stream } = await opened;
    const text = (await readAll(stream)).join('');
    expect(text).toBe(`${chunk('a')}${chunk('b')}event: error\ndata: {"error":{"message":"overloaded"}}\n\n`);
    await until(up.cancelled);
  });

  it('an error before the first data event fails the attempt, so another model can be tried', async () => {
    const up = upstream();
    up.send(': keep-alive\n\nevent: error\ndata: {"error":{"message":"no capacity"}}\n\n');
    await expect(openChunkBytes('fake', up.res, 1000, new AbortController().signal)).rejects.toMatchObject({
      status: 502,
      message: 'no capacity',
    });
    await until(up.cancelled);
  });

  it('a 200 whose body ends before any event fails the attempt (another model can be tried)', async () => {
    for (const body of ['', ': keep-alive\n\n', '{"error":{"message":"not sse"}}']) {
      const up = upstream();
      if (body) up.send(body);
      up.close();
      await expect(openChunkBytes('fake', up.res, 1000, new AbortController().signal)).rejects.toMatchObject({
        status: 502,
        message: 'upstream stream ended before its first event',
      });
    }
    const whole = upstream();
    whole.send(chunk('only').trimEnd());
    whole.close();
    const { stream } = await tap(whole, false);
    expect((await readAll(stream)).join('')).toBe(chunk('only') + DONE);
  });

  it('adds [DONE] when the upstream closes without it, and a last event without its blank line counts', async () => {
    const up = upstream();
    up.send(chunk('x'));
    const opened = tap(up, true);
    up.send(USAGE.trimEnd());
    up.close();
    const { stream, ended } = await opened;
    expect((await readAll(stream)).join('')).toBe(`${chunk('x')}${USAGE}${DONE}`);
    await until(() => ended() !== undefined);
    expect(ended()?.usage?.prompt_tokens).toBe(9);
  });

  it('a stalled upstream ends the stream after the idle limit, and no timer is left', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const up = upstream();
    up.send(chunk('a'));
    const { stream, ended } = await tap(up, false, 500);
    const reading = readAll(stream);
    await vi.advanceTimersByTimeAsync(300);
    up.send(chunk('b'));
    await vi.advanceTimersByTimeAsync(300);
    expect(ended()).toBeUndefined(); // 300 ms quiet twice: under the limit each time
    await vi.advanceTimersByTimeAsync(600);
    const text = (await reading).join('');
    expect(text).toBe(
      `${chunk('a')}${chunk('b')}event: error\ndata: {"error":{"message":"upstream sent nothing for 500 ms"}}\n\n`,
    );
    await vi.waitFor(() => expect(ended()).toBeDefined());
    expect(up.cancelled()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a caller who leaves cancels the upstream body; the end is still reported and no timer is left', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const up = upstream();
    up.send(chunk('a'));
    const { stream, ended } = await tap(up, false, 60_000);
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel(new Error('caller left'));
    await vi.waitFor(() => expect(up.cancelled()).toBe(true));
    await vi.waitFor(() => expect(ended()).toBeDefined());
    expect(vi.getTimerCount()).toBe(0);
  });
});
