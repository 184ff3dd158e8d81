import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../provider-error.ts';
import type { ChatRequest } from '../types.ts';
import { upstreamText } from '../upstream-text.ts';
import { createOpenAIChat } from './index.ts';

/** createOpenAIChat's `chat` against an upstream that answers `text` as is. */
const chat = (text: string) =>
  createOpenAIChat(
    {
      id: 'up',
      apiKey: undefined,
      baseURL: 'http://upstream.invalid/v1',
      timeoutMs: 1000,
      fetch: async () => new Response(text, { headers: { 'content-type': 'application/json' } }),
    },
    'openai_compatible',
  ).chat('m', { model: 'm', messages: [{ role: 'user', content: 'hi' }] } as ChatRequest, {
    signal: new AbortController().signal,
    headers: {},
  });

describe('an OpenAI-type chat answer keeps its upstream text', () => {
  it('the exact bytes the upstream sent, beside the parsed object (what the chat route forwards)', async () => {
    // Spacing, key order and a float's spelling that a re-serialisation would change.
    const text =
      '{ "object":"chat.completion", "id" : "x",\n "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop","logprobs":{"p":1.50}}]}';
    const answer = await chat(text);
    expect(answer.id).toBe('x');
    expect(upstreamText(answer)).toBe(text);
    expect(JSON.stringify(answer)).not.toBe(text);
    // An object built here (a translated or cached answer) has no text: it is serialised.
    expect(upstreamText({ ...answer })).toBeUndefined();
  });

  it.each([
    ['{"id":"x"}', 'choices'],
    ['{"choices":{"0":{}}}', 'choices'],
    ['{"choices":null}', 'choices'],
    ['[{"choices":[]}]', 'root'],
    ['"text"', 'root'],
    ['null', 'root'],
  ])('%s is a 502 naming %s, not forwarded', async (text, where) => {
    const err = await chat(text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(502);
    expect((err as ProviderError).message).toBe(`upstream sent an unexpected body (${where}: Invalid input)`);
  });
});
