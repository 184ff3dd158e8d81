import { describe, expect, inject, it } from 'vitest';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { fakeEmbedding } from '../../test/fakes/openai-fake.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import embedApp from './index.ts';

const openai = inject('openaiFakeUrl');
const gemini = inject('geminiFakeUrl');

const MODELS_YAML = `
providers:
  oai: { type: openai, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  compat: { type: openai_compatible, base_url: ${openai}/v1, api_key_env: OPENAI_API_KEY, timeout_ms: 2000 }
  google: { type: gemini, base_url: ${gemini}, api_key_env: GOOGLE_API_KEY, timeout_ms: 2000 }
models:
  - { id: small-embed, provider: oai, upstream: embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
  - { id: broken-embed, provider: oai, upstream: fail500, capabilities: [embeddings], context_window: 8191, dimension: 8 }
  - { id: gemini-embed, provider: google, upstream: gemini-embed-8, capabilities: [embeddings], context_window: 2048, dimension: 8 }
  - { id: chatty, provider: oai, upstream: ok, capabilities: [chat], context_window: 8191 }
  - { id: compat-embed, provider: compat, upstream: compat-embed-8, capabilities: [embeddings], context_window: 8191, dimension: 8 }
roles:
  gemini-only: [gemini-embed]
  embedding: [small-embed, gemini-embed]
  flaky-embedding: [broken-embed, gemini-embed]
  chat-only: [chatty]
policy:
  retries: 0
  backoff: { base_ms: 10, max_ms: 20 }
  retry_after_cap_ms: 500
  deadline_ms: 5000
  circuit_breaker: { failure_threshold: 50, window_ms: 60000, open_ms: 1000 }
`;

const envWith = (over: Record<string, string | undefined> = {}) =>
  testEnv({
    MAS_MODELS_YAML: MODELS_YAML,
    OPENAI_API_KEY: 'sk-fake-openai-000000000000000000000',
    GOOGLE_API_KEY: 'AIzaFakeFakeFakeFakeFakeFakeFakeFakeFake1',
    ...over,
  });

const post = async (
  path: string,
  body: unknown,
  over: Record<string, string | undefined> = {},
  as: Parameters<typeof bearer>[0] = 'agent',
) =>
  call(embedApp, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(as) },
    body: JSON.stringify(body),
    env: await envWith(over),
  });

describe('POST /v1/embeddings', () => {
  it('embeds through the embedding role in the OpenAI shape', async () => {
    resetLocalCircuits();
    const res = await post('/v1/embeddings', { input: ['alpha', 'beta'] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('small-embed');
    const body = (await res.json()) as {
      object: string;
      data: Array<{ index: number; embedding: number[] }>;
      usage: { prompt_tokens: number };
    };
    expect(body.object).toBe('list');
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    expect(body.data[0]!.embedding).toHaveLength(8);
    expect(body.data[0]!.embedding).not.toEqual(body.data[1]!.embedding);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('falls back to Gemini embeddings when OpenAI fails', async () => {
    const res = await post('/v1/embeddings', { input: 'alpha', model: 'flaky-embedding' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mas-model')).toBe('gemini-embed');
    const body = (await res.json()) as { data: Array<{ embedding: number[] }> };
    expect(body.data[0]!.embedding).toHaveLength(8);
  });

  it('400 for a chat-only model or bad input', async () => {
    expect((await post('/v1/embeddings', { input: 'x', model: 'chat-only' })).status).toBe(400);
    expect((await post('/v1/embeddings', { input: [] })).status).toBe(400);
    expect((await post('/v1/embeddings', { input: 42 })).status).toBe(400);
  });
});

const requestsFor = async (model: string) =>
  (await (await fetch(`${openai}/__requests/${encodeURIComponent(model)}`)).json()) as Array<{
    body: Record<string, unknown>;
  }>;

/** What OpenAI's SDKs do with a base64 embedding: the bytes as a little-endian Float32Array. */
const decode = (b64: string) => Array.from(new Float32Array(Buffer.from(b64, 'base64').buffer.slice(0)));

describe('embeddings as OpenAI encodes them', () => {
  type Body = { data: Array<{ embedding: number[] | string }>; usage: { prompt_tokens: number } };

  it('base64 is the float32 vector, little-endian, equal to the float answer', async () => {
    const float = (await (
      await post('/v1/embeddings', { input: 'alpha', encoding_format: 'float' })
    ).json()) as Body;
    const b64res = await post('/v1/embeddings', { input: 'alpha', encoding_format: 'base64' });
    expect(b64res.status).toBe(200);
    const b64 = (await b64res.json()) as Body;
    expect(typeof b64.data[0]!.embedding).toBe('string');
    const vector = float.data[0]!.embedding as number[];
    expect(decode(b64.data[0]!.embedding as string)).toEqual(Array.from(new Float32Array(vector)));
    // The same bytes OpenAI would send: float32 little-endian, 4 bytes per dimension.
    const bytes = Buffer.from(b64.data[0]!.embedding as string, 'base64');
    expect(bytes.length).toBe(vector.length * 4);
    expect(bytes.readFloatLE(0)).toBe(Math.fround(vector[0]!));
    // We ask OpenAI for base64 too (a quarter of the bytes), and float from compatible servers.
    expect((await requestsFor('embed-8')).at(-1)!.body.encoding_format).toBe('base64');
  });

  it('dimensions reaches the upstream and shapes the vector, with either encoding', async () => {
    const float = (await (await post('/v1/embeddings', { input: 'alpha', dimensions: 4 })).json()) as Body;
    expect(float.data[0]!.embedding).toHaveLength(4);
    const b64 = (await (
      await post('/v1/embeddings', { input: 'alpha', dimensions: 4, encoding_format: 'base64' })
    ).json()) as Body;
    expect(decode(b64.data[0]!.embedding as string)).toHaveLength(4);
    expect((await requestsFor('embed-8')).at(-1)!.body.dimensions).toBe(4);
  });

  it('token ids and token-id arrays go upstream as sent, one vector per input', async () => {
    const one = await post('/v1/embeddings', { input: [101, 202, 303], model: 'small-embed' });
    expect(one.status).toBe(200);
    expect(((await one.json()) as Body).data).toHaveLength(1);
    expect((await requestsFor('embed-8')).at(-1)!.body.input).toEqual([101, 202, 303]);
    const many = await post('/v1/embeddings', {
      input: [
        [1, 2],
        [3, 4, 5],
      ],
      model: 'compat-embed',
    });
    expect(many.status).toBe(200);
    const body = (await many.json()) as Body;
    expect(body.data).toHaveLength(2);
    expect(body.data[0]!.embedding).not.toEqual(body.data[1]!.embedding);
    const seen = (await requestsFor('compat-embed-8')).at(-1)!.body;
    expect(seen.input).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
    expect(seen.encoding_format).toBe('float');
  });

  it('token input skips Gemini in a chain, and is a clear 400 when only Gemini is left', async () => {
    resetLocalCircuits();
    const mixed = await post('/v1/embeddings', { input: [7, 8, 9], model: 'flaky-embedding' });
    // broken-embed (OpenAI) fails and Gemini cannot take tokens: the chain ends in OpenAI's 5xx
    // instead of a Gemini answer made from another tokenizer's ids.
    expect(mixed.status).toBe(502);
    const res = await post('/v1/embeddings', { input: [[7, 8, 9]], model: 'gemini-only' });
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { code: string; param: string; message: string } }).error;
    expect(error.code).toBe('token_input_unsupported');
    expect(error.param).toBe('input');
    expect(error.message).toMatch(/OpenAI-compatible/);
  });

  it('refuses mixed or malformed inputs and unknown encodings', async () => {
    expect((await post('/v1/embeddings', { input: ['a', 1] })).status).toBe(400);
    expect((await post('/v1/embeddings', { input: [1.5, 2] })).status).toBe(400);
    expect((await post('/v1/embeddings', { input: [[]] })).status).toBe(400);
    expect((await post('/v1/embeddings', { input: 'a', encoding_format: 'hex' })).status).toBe(400);
  });
});

describe("the upstream's vectors sent on as written", () => {
  const float32LE = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString('base64');
  const exactly = (model: string, embeddings: unknown[], tokens: number) =>
    JSON.stringify({
      object: 'list',
      data: embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  const input = ['alpha', 'beta gamma'];
  const vectors = input.map((text) => fakeEmbedding(text, 8));

  it.each([
    // OpenAI answers base64 (we ask it to): its strings go on as they are.
    ['small-embed', 'base64', vectors.map(float32LE)],
    // A compatible server answers floats: written as base64 here.
    ['compat-embed', 'base64', vectors.map(float32LE)],
    // Floats from a compatible server: its own number texts.
    ['compat-embed', 'float', vectors],
    // Floats asked of OpenAI, which answered base64: decoded, written as numbers.
    ['small-embed', 'float', vectors.map((v) => Array.from(new Float32Array(v)))],
  ])('%s, %s asked: the answer, byte for byte', async (model, encoding_format, embeddings) => {
    const res = await post('/v1/embeddings', { model, input, encoding_format });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe(exactly(model, embeddings, 3));
  });

  it.each(['float', 'base64'])(
    '%s through the response cache: the hit is the miss, byte for byte',
    async (encoding_format) => {
      const body = { model: 'compat-embed', input: [`cached ${crypto.randomUUID()}`], encoding_format };
      const send = async () =>
        call(embedApp, '/v1/embeddings', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-mas-cache': '60', ...bearer('agent') },
          body: JSON.stringify(body),
          env: await envWith(),
        });
      const miss = await send();
      expect(miss.headers.get('x-mas-cache')).toBe('miss');
      const hit = await send();
      expect(hit.headers.get('x-mas-cache')).toBe('hit');
      const vector = fakeEmbedding(body.input[0]!, 8);
      const expected = exactly(
        'compat-embed',
        [encoding_format === 'base64' ? float32LE(vector) : vector],
        2,
      );
      expect(await miss.text()).toBe(expected);
      expect(await hit.text()).toBe(expected);
    },
  );
});

const backends: Array<[string, Record<string, string | undefined>]> = [
  ['qdrant', { QDRANT_URL: inject('qdrantFakeUrl') }],
  // The machine's PostgreSQL may lack pgvector: the pgvector path runs on embedded PGlite then.
  ['pgvector', { QDRANT_URL: undefined, DATABASE_URL: inject('pgvectorDatabaseUrl') }],
];

describe.each(backends)('vector memory on %s', (backend, over) => {
  const name = `mem_${backend}_${crypto.randomUUID().slice(0, 8)}`;

  it('upserts vectors and finds the nearest first, with payload filters', async () => {
    const up = await post(
      `/v1/vectors/${name}/upsert`,
      {
        points: [
          { id: 1, vector: [1, 0, 0, 0], payload: { kind: 'a' } },
          { id: 2, vector: [0.9, 0.1, 0, 0], payload: { kind: 'b' } },
          { id: 'c2b8f0a0-3c1d-4e5f-8a9b-0c1d2e3f4a5b', vector: [0, 1, 0, 0], payload: { kind: 'a' } },
        ],
      },
      over,
    );
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ upserted: 3 });
    const found = (await (
      await post(`/v1/vectors/${name}/search`, { vector: [1, 0, 0, 0], limit: 2 }, over)
    ).json()) as {
      results: Array<{ id: unknown; score: number; payload: { kind: string } }>;
    };
    expect(found.results.map((r) => r.id)).toEqual([1, 2]);
    expect(found.results[0]!.score).toBeCloseTo(1, 5);
    const filtered = (await (
      await post(`/v1/vectors/${name}/search`, { vector: [1, 0, 0, 0], filter: { kind: 'a' } }, over)
    ).json()) as {
      results: Array<{ id: unknown }>;
    };
    expect(filtered.results.map((r) => r.id)).toEqual([1, 'c2b8f0a0-3c1d-4e5f-8a9b-0c1d2e3f4a5b']);
  });

  it('embeds text on upsert and query, creating the collection with the model dimension', async () => {
    const texts = `${name}_texts`;
    const up = await post(
      `/v1/vectors/${texts}/upsert`,
      {
        points: [
          { id: 10, text: 'the cat sat' },
          { id: 11, text: 'stock prices fell' },
        ],
      },
      over,
    );
    expect(up.status).toBe(200);
    const found = (await (
      await post(`/v1/vectors/${texts}/search`, { query: 'stock prices fell', limit: 1 }, over)
    ).json()) as {
      results: Array<{ id: unknown; score: number }>;
    };
    expect(found.results[0]).toMatchObject({ id: 11 });
    expect(found.results[0]!.score).toBeCloseTo(1, 5);
    // A vector of another dimension does not fit that collection.
    expect(
      (await post(`/v1/vectors/${texts}/upsert`, { points: [{ id: 12, vector: [1, 2, 3] }] }, over)).status,
    ).toBe(409);
  });

  it('keeps each principal in its own namespace: the same name is another collection', async () => {
    const mine = `${name}_own`;
    expect(
      (await post(`/v1/vectors/${mine}/upsert`, { points: [{ id: 1, vector: [1, 0] }] }, over)).status,
    ).toBe(200);
    const search = async (as: 'agent' | 'agent2') =>
      (
        (await (await post(`/v1/vectors/${mine}/search`, { vector: [1, 0] }, over, as)).json()) as {
          results: unknown[];
        }
      ).results.length;
    expect(await search('agent')).toBe(1);
    expect(await search('agent2')).toBe(0);
    // agent-2 writing the same name fills its own collection; agent-1's is untouched.
    await post(
      `/v1/vectors/${mine}/upsert`,
      {
        points: [
          { id: 1, vector: [0, 1] },
          { id: 2, vector: [0, 1] },
        ],
      },
      over,
      'agent2',
    );
    expect(await search('agent')).toBe(1);
    expect(await search('agent2')).toBe(2);
  });

  it('a shared collection (config/gateway.yaml) is written by the roles listed, 403 for others', async () => {
    const points = { points: [{ id: `${crypto.randomUUID()}`, vector: [0.3, 0.7], payload: { run: name } }] };
    const denied = await post('/v1/vectors/knowledge/upsert', points, over, 'agent');
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('collection_forbidden');
    expect((await post('/v1/vectors/knowledge/upsert', points, over, 'admin')).status).toBe(200);
    for (const as of ['agent', 'agent2'] as const) {
      const found = (await (
        await post('/v1/vectors/knowledge/search', { vector: [0.3, 0.7], filter: { run: name } }, over, as)
      ).json()) as { results: unknown[] };
      expect(found.results).toHaveLength(1);
    }
  });

  it('validates collection names and points', async () => {
    expect(
      (await post('/v1/vectors/Bad-Name/upsert', { points: [{ id: 1, vector: [1] }] }, over)).status,
    ).toBe(400);
    expect(
      (await post(`/v1/vectors/${name}/upsert`, { points: [{ id: 1, vector: [1], text: 'both' }] }, over))
        .status,
    ).toBe(400);
    expect(
      (await post(`/v1/vectors/${name}/upsert`, { points: [{ id: 'not-a-uuid', vector: [1] }] }, over))
        .status,
    ).toBe(400);
    expect((await post(`/v1/vectors/${name}/search`, { limit: 3 }, over)).status).toBe(400);
  });
});

describe('pgvector collections', () => {
  const over = { QDRANT_URL: undefined, DATABASE_URL: inject('pgvectorDatabaseUrl') };
  const sql = async (text: string, params: unknown[] = []) =>
    withPostgres(getSettings(await envWith(over)), async (client) => (await client.query(text, params)).rows);

  it('are created by vectors.ensure_collection with an HNSW index; one upsert, last point per id wins', async () => {
    const name = `ddl_${crypto.randomUUID().slice(0, 8)}`;
    const points = Array.from({ length: 300 }, (_, i) => ({ id: i, vector: [1, i, 0, 0], payload: { i } }));
    points.push({ id: 7, vector: [0, 0, 0, 1], payload: { i: -7 } });
    const up = await post(`/v1/vectors/${name}/upsert`, { points }, over);
    expect(up.status).toBe(200);
    const [collection] = await sql('select table_name, dimension from vectors.collections where name = $1', [
      name,
    ]);
    expect(collection).toMatchObject({ dimension: 4 });
    const indexes = await sql('select indexdef from pg_indexes where schemaname = $1 and tablename = $2', [
      'vectors',
      collection!.table_name,
    ]);
    expect(indexes.map((r) => r.indexdef).join('\n')).toMatch(
      /USING hnsw \(embedding (\w+\.)?vector_cosine_ops\)/,
    );
    const [count] = await sql(`select count(*)::int as n from vectors.${collection!.table_name}`);
    expect(count!.n).toBe(300);
    const found = (await (
      await post(`/v1/vectors/${name}/search`, { vector: [0, 0, 0, 1], limit: 1 }, over)
    ).json()) as { results: Array<{ id: unknown; payload: { i: number } }> };
    expect(found.results[0]).toMatchObject({ id: 7, payload: { i: -7 } });
  });

  it('a search of another dimension is a 409, not a database error', async () => {
    const name = `dim_${crypto.randomUUID().slice(0, 8)}`;
    await post(`/v1/vectors/${name}/upsert`, { points: [{ id: 1, vector: [1, 0] }] }, over);
    const res = await post(`/v1/vectors/${name}/search`, { vector: [1, 0, 0] }, over);
    expect(res.status).toBe(409);
  });
});

describe('vector memory on a Postgres without pgvector', () => {
  // Only a Postgres without pgvector can show this (the machine's PostgreSQL 15 in CI); skips on
  // embedded PGlite, which has pgvector (allow-listed in test/skip-reporter.ts).
  it.skipIf(inject('stackInfo').embeddedPostgres)('a clear 503 naming the fix, never a crash', async () => {
    const res = await post(
      `/v1/vectors/mem_nopgv/upsert`,
      { points: [{ id: 1, vector: [1, 0] }] },
      {
        QDRANT_URL: undefined,
      },
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /pgvector.*QDRANT_URL/,
    );
  });
});
