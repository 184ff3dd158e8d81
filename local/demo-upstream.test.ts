import { describe, expect, it } from 'vitest';
import { needsDemoUpstream } from './demo-upstream.ts';

describe('needsDemoUpstream', () => {
  it('only without any provider key or LLM_BASE_URL', () => {
    expect(needsDemoUpstream({})).toBe(true);
    expect(needsDemoUpstream({ ANTHROPIC_API_KEY: 'sk-ant-x' })).toBe(false);
    expect(needsDemoUpstream({ OPENAI_API_KEY: 'sk-x' })).toBe(false);
    expect(needsDemoUpstream({ GOOGLE_API_KEY: 'AIza' })).toBe(false);
    expect(needsDemoUpstream({ LLM_BASE_URL: 'http://127.0.0.1:4000/v1' })).toBe(false);
    expect(needsDemoUpstream({ ANTHROPIC_API_KEY: '' })).toBe(true);
  });
});
