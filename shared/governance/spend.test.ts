import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, utf8Length } from './spend.ts';

describe('utf8Length', () => {
  it.each([
    ['', 'empty'],
    ['Say hello.', 'ASCII'],
    ['café, naïve, Ærø', 'two-byte Latin'],
    ['日本語のテキスト', 'three-byte CJK'],
    ['emoji 😀 and 🇫🇷 flags', 'surrogate pairs'],
    ['lone \ud800 high and \udc00 low surrogates, and a high at the end \ud83d', 'lone surrogates'],
    [JSON.stringify([{ role: 'user', content: 'Grüße 👋 — “quoted”' }]), 'a JSON body'],
  ])('counts what TextEncoder writes: %j (%s)', (text) => {
    expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
  });

  it('estimates a third of the bytes, rounded up', () => {
    expect(estimatePromptTokens('abcd')).toBe(2);
    expect(estimatePromptTokens([{ role: 'user', content: 'hi' }])).toBe(
      Math.ceil(JSON.stringify([{ role: 'user', content: 'hi' }]).length / 3),
    );
  });
});
