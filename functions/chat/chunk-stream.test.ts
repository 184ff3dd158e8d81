import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { chunkToCompletion } from '../../shared/llm/completions/translate.ts';
import { primedBatches } from '../../shared/llm/providers/sse.ts';
import type { ChatChunk } from '../../shared/llm/providers/types.ts';
import { createLogger } from '../../shared/log/logger.ts';
import { chunkStream } from './chunk-stream.ts';

/** chunkStream over upstream reads given as batches, translated as legacy completions do. */
async function streamed(reads: ChatChunk[][]) {
  const lines: string[] = [];
  const ended: unknown[] = [];
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    c.set(
      'log',
      createLogger({}, 'warn', (line) => lines.push(line)),
    );
    const chunks = await primedBatches(
      (async function* () {
        yield* reads;
      })(),
    );
    return chunkStream(c, chunks, {
      wantsUsage: false,
      model: 'm',
      map: (chunk) => chunkToCompletion(chunk, 'cmpl-1', 'up'),
      onEnd: (usage) => ended.push(usage),
    });
  });
  const res = await app.request('/');
  return { text: await res.text(), lines, ended };
}

describe('chunkStream', () => {
  it('a chunk that fails to translate: the ones before it in the same read still go out, then the error event', async () => {
    const { text, lines, ended } = await streamed([
      [
        { choices: [{ delta: { content: 'Hel' } }] },
        // chunkToCompletion cannot map `choices` that is not an array: it throws.
        { choices: {} } as unknown as ChatChunk,
        { choices: [{ delta: { content: 'lo' } }] },
      ],
    ]);
    const events = text.split('\n\n').slice(0, -1);
    expect(text.endsWith('\n\n')).toBe(true);
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[0]!.slice('data: '.length))).toMatchObject({
      object: 'text_completion',
      choices: [{ text: 'Hel' }],
    });
    expect(events[1]).toMatch(/^event: error\ndata: \{"error":\{.*"code":"stream_interrupted"/);
    expect(text).not.toContain('lo"');
    expect(text).not.toContain('[DONE]');
    expect(lines.some((l) => l.includes('llm stream failed mid-way'))).toBe(true);
    expect(ended).toHaveLength(1);
  });

  it('reads that all translate: each read whole, then [DONE]', async () => {
    const { text } = await streamed([
      [{ choices: [{ delta: { content: 'a' } }] }, { choices: [{ delta: { content: 'b' } }] }],
      [{ choices: [{ delta: { content: 'c' } }] }],
    ]);
    const events = text.split('\n\n').slice(0, -1);
    expect(
      events.map((e) => (e === 'data: [DONE]' ? 'DONE' : JSON.parse(e.slice(6)).choices[0].text)),
    ).toEqual(['a', 'b', 'c', 'DONE']);
  });
});
