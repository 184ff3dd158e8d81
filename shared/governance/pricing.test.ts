import { describe, expect, it } from 'vitest';
import { costUsd, formatUsd, tokenCounts, toNanoUsd } from './pricing.ts';

describe('tokenCounts', () => {
  it('reads Chat Completions usage with cached prompt tokens', () => {
    expect(
      tokenCounts({
        prompt_tokens: 100,
        completion_tokens: 20,
        prompt_tokens_details: { cached_tokens: 40 },
      }),
    ).toEqual({ prompt: 100, completion: 20, cached: 40 });
  });
  it('reads Responses usage', () => {
    expect(
      tokenCounts({ input_tokens: 10, output_tokens: 5, input_tokens_details: { cached_tokens: 2 } }),
    ).toEqual({ prompt: 10, completion: 5, cached: 2 });
  });
  it('reads Anthropic usage: cache reads and writes are prompt tokens beside input_tokens', () => {
    expect(
      tokenCounts({
        input_tokens: 10,
        output_tokens: 3,
        cache_read_input_tokens: 50,
        cache_creation_input_tokens: 5,
      }),
    ).toEqual({ prompt: 65, completion: 3, cached: 50 });
  });
  it('ignores junk', () => {
    expect(tokenCounts({ prompt_tokens: -3, completion_tokens: 'x' })).toEqual({
      prompt: 0,
      completion: 0,
      cached: 0,
    });
    expect(tokenCounts(null)).toEqual({ prompt: 0, completion: 0, cached: 0 });
  });
});

describe('costUsd', () => {
  it('prices input, output and cached input per million tokens', () => {
    const price = { input: 2.5, output: 10, cached_input: 1.25 };
    expect(costUsd(price, { prompt: 1_000_000, completion: 0, cached: 0 })).toBe(2.5);
    expect(costUsd(price, { prompt: 1000, completion: 500, cached: 400 })).toBeCloseTo(
      (600 * 2.5 + 400 * 1.25 + 500 * 10) / 1e6,
      15,
    );
  });
  it('prices cached tokens as input when the model has no cached price', () => {
    expect(costUsd({ input: 1, output: 2 }, { prompt: 10, completion: 0, cached: 10 })).toBeCloseTo(1e-5, 15);
  });
  it('is null without a price', () => {
    expect(costUsd(undefined, { prompt: 1, completion: 1, cached: 0 })).toBeNull();
  });
  it('formats without exponents and rounds budgets up to whole nano-dollars', () => {
    expect(formatUsd(0.0000015)).toBe('0.0000015');
    expect(formatUsd(0)).toBe('0.0');
    expect(toNanoUsd(0.0000015)).toBe(1500);
  });
});
