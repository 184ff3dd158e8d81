import { beforeEach, describe, expect, inject, it } from 'vitest';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import { assertOpenAI } from '../../test/workers/openai-spec.ts';
import app from './index.ts';

/** /v1/embeddings as the gateway sends it, validated against OpenAI's OpenAPI description. */
const openai = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');

const MODELS_YAML = `
providers:
  oai: { type: openai, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  compat: { type: openai_compatible, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
models:
  - { id: o-embed, provider: oai, upstream: embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
  - { id: x-embed, provider: compat, upstream: compat-embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
  - { id: g-embed, provider: google, upstream: gemini-embed-8, capabilities: [embeddings], context_window: 2048, dimension: 8 }
  - { id: o-broken, provider: oai, upstream: fail500, capabilities: [embeddings], context_window: 8191, dimension: 8 }
roles:
  embedding: [o-broken, g-embed]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 5000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

const embed = async (body: Record<string, unknown>) =>
  call(app, '/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify(body),
    env: await testEnv({
      MAS_MODELS_YAML: MODELS_YAML,
      OPENAI_API_KEY: 'sk-fake-openai-000000000000000000000',
      GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
    }),
  });

type Embeddings = { data: Array<{ index: number; embedding: unknown }> };

/** Little-endian float32, as OpenAI encodes base64 embeddings; exact, so equal to the float answer. */
const decodeFloat32LE = (text: string): number[] => {
  const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  expect(bytes.length % 4).toBe(0);
  const view = new DataView(bytes.buffer);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
};

beforeEach(() => resetLocalCircuits());

describe.each([
  ['OpenAI', 'o-embed'],
  ['OpenAI-compatible', 'x-embed'],
  ['Gemini', 'g-embed'],
])('embeddings from %s match the spec', (_name, model) => {
  const input = ['alpha', 'beta gamma'];

  it('float, the default: the body as the spec describes it', async () => {
    const res = await embed({ model, input, encoding_format: 'float' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Embeddings;
    assertOpenAI('CreateEmbeddingResponse', body);
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    assertOpenAI(
      'CreateEmbeddingResponse',
      (await (await embed({ model, input: 'alpha' })).json()) as unknown,
    );
  });

  it('base64: the rest as the spec says, each embedding the float answer as LE float32', async () => {
    const float = (await (await embed({ model, input })).json()) as Embeddings;
    const res = await embed({ model, input, encoding_format: 'base64' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Embeddings;
    // The spec types `embedding` as number[] only, though OpenAI answers base64 with a string
    // (and its SDKs ask for base64 by default): check it is a base64 string of little-endian
    // float32 that decodes to the float answer, then validate the body with the decoded vectors.
    const decoded = body.data.map((d) => {
      expect(d.embedding).toEqual(expect.stringMatching(/^[A-Za-z0-9+/]+={0,2}$/));
      return { ...d, embedding: decodeFloat32LE(d.embedding as string) };
    });
    assertOpenAI('CreateEmbeddingResponse', { ...body, data: decoded });
    decoded.forEach((d, i) => {
      const expected = Array.from(new Float32Array(float.data[i]!.embedding as number[]));
      expect(d.embedding).toEqual(expected);
    });
  });
});

describe('embedding errors match the spec (ErrorResponse)', () => {
  it.each([
    [{ model: 'o-embed', input: [] }, 400],
    [{ model: 'o-embed', input: 'x', encoding_format: 'int8' }, 400],
    [{ model: 'no-such-embed', input: 'x' }, 404],
  ])('%j is a %i', async (body, status) => {
    const res = await embed(body);
    expect(res.status).toBe(status);
    assertOpenAI('ErrorResponse', await res.json());
  });
});
