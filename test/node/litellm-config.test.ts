import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const models = parse(readFileSync('config/models.yaml', 'utf8')) as {
  providers: Record<string, { type: string }>;
  models: Array<{ id: string; provider: string; upstream: string }>;
  roles: Record<string, string[]>;
};
const litellm = parse(readFileSync('config/litellm_config.yaml', 'utf8')) as {
  model_list: Array<{ model_name: string; litellm_params: { model: string } }>;
  router_settings: { fallbacks: Array<Record<string, string[]>> };
};

/** LiteLLM's provider prefix for each of our provider types. */
const PREFIX: Record<string, string> = { openai: 'openai', gemini: 'gemini', anthropic: 'anthropic' };

describe('config/litellm_config.yaml agrees with config/models.yaml', () => {
  it('serves every hosted chat model under its registry id, with the same upstream', () => {
    const served = new Map(litellm.model_list.map((m) => [m.model_name, m.litellm_params.model]));
    const hosted = models.models.filter((m) => PREFIX[models.providers[m.provider]!.type]);
    expect(hosted.some((m) => m.provider === 'anthropic')).toBe(true);
    for (const model of hosted) {
      const type = models.providers[model.provider]!.type;
      expect(served.get(model.id), model.id).toBe(`${PREFIX[type]}/${model.upstream}`);
    }
  });

  it('falls back from each role (and its first model) along the registry chain', () => {
    const fallbacks = Object.assign({}, ...litellm.router_settings.fallbacks) as Record<string, string[]>;
    for (const role of ['planning', 'execution', 'fast', 'fallback']) {
      const chain = models.roles[role]!;
      expect(fallbacks[role], role).toEqual(chain.slice(1));
    }
  });
});
