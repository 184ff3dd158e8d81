import type { Context } from 'hono';
import * as z from 'zod/mini';
import { gatewayConfig } from '../../shared/config/index.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError, badRequest } from '../../shared/errors/index.ts';
import { cachePut, lookupCache } from '../../shared/governance/response-cache.ts';
import { beginSpend, estimatePromptTokens, setCostHeader } from '../../shared/governance/spend.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { lazy } from '../../shared/http/lazy.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { encodeFloat32Base64 } from '../../shared/llm/embeddings-base64.ts';
import { embedWith } from '../../shared/llm/providers/embed.ts';
import type { EmbedFormat, EmbedInputs } from '../../shared/llm/providers/types.ts';
import { type ResolvedTarget, resolveTarget } from '../../shared/llm/registry.ts';
import { createRouteContext, setRouteHeaders } from '../../shared/llm/route-context.ts';
import { routeCall } from '../../shared/llm/router.ts';
import { llmTokensTotal } from '../../shared/metrics/registry.ts';
import { outgoingTraceHeaders } from '../../shared/middleware/correlation/index.ts';
import { guard } from '../../shared/middleware/guard.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { createPgvectorStore } from '../../shared/vectors/pgvector-store.ts';
import { createQdrantStore } from '../../shared/vectors/qdrant-store.ts';
import { resolveCollection } from '../../shared/vectors/tenancy.ts';
import type { VectorStore } from '../../shared/vectors/types.ts';

const routes = routeTable<AppEnv>();

routes.use('/v1/embeddings', guard({ roles: ['agent', 'admin'] }));
routes.use('/v1/vectors/*', guard({ roles: ['agent', 'admin'] }));

// zod/mini, as every schema of the embed function: classic zod stays out of its bundle. Every
// schema here is built on its first use (`lazy`: call it for the schema), not at module load:
// together they were the largest allocation of the embed bundle's start-up (~270 KiB of young
// generation in Node), enough for a new isolate's first request, whatever its route, to pay a
// scavenge. An embeddings request builds only the embeddings schema; the vector schemas wait for a
// vector route. The routes parse with the getters; the exported `*Schema` wrap the same schemas for
// the OpenAPI document (local/openapi-operations.ts) and, unused here, drop out of the bundle:
// their `z.lazy` is marked pure, as esbuild does not see zod's own annotation on it (each is a
// zod/mini instance, ~2 KiB at load, where `lazy` is one closure).
const text = lazy(() => z.string().check(z.minLength(1), z.maxLength(32_000)));
const tokenIds = () =>
  z
    .array(z.number().check(z.int(), z.nonnegative(), z.lte(2 ** 31)))
    .check(z.minLength(1), z.maxLength(32_000));
/** OpenAI's four input forms: a string, strings, token ids, or one token-id array per input. */
const embeddingsBody = lazy(() => {
  const ids = tokenIds();
  return z.strictObject({
    input: z.union([
      text(),
      z.array(text()).check(z.minLength(1), z.maxLength(2048)),
      ids,
      z.array(ids).check(z.minLength(1), z.maxLength(2048)),
    ]),
    model: z.optional(z.string().check(z.maxLength(200))),
    encoding_format: z.optional(z.enum(['float', 'base64'])),
    dimensions: z.optional(z.number().check(z.int(), z.positive(), z.lte(8192))),
    user: z.optional(z.string()),
  });
});
export const embeddingsSchema = /* @__PURE__ */ z.lazy(embeddingsBody);

/**
 * Embeds through the `embedding` role (or the model asked for) with the same router as chat.
 * Token ids only go to OpenAI-type models (they are another tokenizer's ids to anyone else).
 */
async function embedTexts(
  c: Context<AppEnv>,
  inputs: EmbedInputs,
  {
    model,
    resolved,
    dimensions,
    format,
  }: { model?: string; resolved?: ResolvedTarget; dimensions?: number; format?: EmbedFormat } = {},
) {
  // `resolved`: what the route already resolved `model` to (building a target is per request).
  let target = resolved ?? resolveTarget(c.env, model ?? 'embedding', undefined, 'embeddings');
  if ('tokens' in inputs) {
    const chain = target.chain.filter((m) => m.provider.type !== 'gemini');
    if (chain.length === 0) {
      throw badRequest(
        `Token-id input needs an OpenAI or OpenAI-compatible embedding model; '${model ?? 'embedding'}' routes to Gemini only, which embeds text. Send strings, or pick another model.`,
        'input',
        'token_input_unsupported',
      );
    }
    target = { ...target, chain };
  }
  const trace = c.get('trace');
  const spend = await beginSpend(c, {
    endpoint: 'embeddings',
    target,
    // Estimated only when a budget applies (a key without budgets does not serialise the inputs).
    promptTokens: () =>
      'tokens' in inputs
        ? inputs.tokens.reduce((n, t) => n + t.length, 0)
        : estimatePromptTokens(inputs.texts),
    maxOutputTokens: 0,
  });
  const routed = await routeCall(createRouteContext(c, target), (m, signal) =>
    embedWith(m, m.model.upstream, inputs, {
      signal,
      headers: outgoingTraceHeaders(trace),
      dimensions,
      format,
    }),
  ).catch((err) => {
    spend.release();
    throw err;
  });
  setCostHeader(c, spend.settle(routed.model, { prompt_tokens: routed.result.promptTokens }));
  if (routed.result.promptTokens) {
    llmTokensTotal.inc(
      { provider: routed.model.providerId, model: routed.model.model.id, type: 'prompt' },
      routed.result.promptTokens,
    );
  }
  setRouteHeaders(c, routed);
  return routed;
}

routes.post('/v1/embeddings', async (c) => {
  const body = await readJson(c, embeddingsBody(), maxBodyBytes('embed'));
  const target = resolveTarget(c.env, body.model ?? 'embedding', undefined, 'embeddings');
  const { hit, plan: cache } = await lookupCache(c, 'embeddings', body, target);
  if (hit) return hit;
  const base64 = body.encoding_format === 'base64';
  // The vectors written as asked, when the upstream's own text will do: a base64 string goes in
  // the cached answer as it is, a float array's text could not (the cache keeps the object).
  const format = base64 ? 'base64' : cache ? undefined : 'float';
  const routed = await embedTexts(c, embedInputsOf(body.input), {
    model: body.model,
    resolved: target,
    dimensions: body.dimensions,
    format,
  });
  const { written, vectors } = routed.result;
  const model = routed.model.model.id;
  const { promptTokens } = routed.result;
  if (written?.format === 'float')
    return c.body(floatAnswer(written.items, model, promptTokens), 200, JSON_TYPE);
  const embeddings = written?.items ?? (base64 ? vectors!.map(encodeFloat32Base64) : vectors!);
  const answer = {
    object: 'list',
    data: embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
  if (cache) cachePut(c, cache, { body: answer, provider: routed.model.providerId, model });
  return c.json(answer);
});

const JSON_TYPE = { 'content-type': 'application/json' };

/** The answer `c.json` would send for these vectors, with each vector's text as the upstream wrote it. */
function floatAnswer(vectors: string[], model: string, promptTokens: number): string {
  const data = vectors.map((v, index) => `{"object":"embedding","index":${index},"embedding":${v}}`);
  const usage = JSON.stringify({ prompt_tokens: promptTokens, total_tokens: promptTokens });
  return `{"object":"list","data":[${data.join(',')}],"model":${JSON.stringify(model)},"usage":${usage}}`;
}

function embedInputsOf(input: z.infer<typeof embeddingsSchema>['input']): EmbedInputs {
  if (typeof input === 'string') return { texts: [input] };
  if (input.every((i) => typeof i === 'string')) return { texts: input as string[] };
  if (input.every((i) => typeof i === 'number')) return { tokens: [input as number[]], single: true };
  return { tokens: input as number[][] };
}

const collection = lazy(() =>
  z.string().check(z.regex(/^[a-z0-9_]{1,48}$/, 'lower-case letters, digits and _ (1-48)')),
);
const pointId = () => z.union([z.uuid(), z.number().check(z.int(), z.nonnegative())]);
// zod's numbers are finite already (classic's .finite() was a no-op). Shared by both vector schemas.
const vector = lazy(() => z.array(z.number()).check(z.minLength(1), z.maxLength(8192)));

const upsertBody = lazy(() =>
  z.strictObject({
    points: z
      .array(
        z
          .strictObject({
            id: pointId(),
            text: z.optional(text()),
            vector: z.optional(vector()),
            payload: z._default(z.record(z.string(), z.unknown()), {}),
          })
          .check(
            z.refine((p) => (p.text === undefined) !== (p.vector === undefined), {
              message: 'give exactly one of text or vector',
            }),
          ),
      )
      .check(z.minLength(1), z.maxLength(1000)),
  }),
);

const searchBody = lazy(() =>
  z
    .strictObject({
      query: z.optional(text()),
      vector: z.optional(vector()),
      limit: z._default(z.number().check(z.int(), z.gte(1), z.lte(100)), 10),
      filter: z._default(z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), {}),
    })
    .check(
      z.refine((s) => (s.query === undefined) !== (s.vector === undefined), {
        message: 'give exactly one of query or vector',
      }),
    ),
);
export const upsertSchema = /* @__PURE__ */ z.lazy(upsertBody);
export const searchSchema = /* @__PURE__ */ z.lazy(searchBody);

/** Qdrant when QDRANT_URL is set, else pgvector in the same Postgres. */
async function withStore<T>(c: Context<AppEnv>, fn: (store: VectorStore) => Promise<T>): Promise<T> {
  const settings = getSettings(c.env);
  if (settings.QDRANT_URL)
    return fn(createQdrantStore({ url: settings.QDRANT_URL, apiKey: settings.QDRANT_API_KEY }));
  return withPostgres(settings, (client) => fn(createPgvectorStore(client)));
}

/** The caller's collection, or a shared one it may use (403 otherwise): before any upstream call. */
const collectionOf = (c: Context<AppEnv>, access: 'read' | 'write') =>
  resolveCollection(
    c.get('principal'),
    collection().parse(c.req.param('collection')),
    access,
    gatewayConfig.vectors.shared,
  );

routes.post('/v1/vectors/:collection/upsert', async (c) => {
  const ref = collectionOf(c, 'write');
  const body = await readJson(c, upsertBody(), maxBodyBytes('embed'));
  const texts = body.points.filter((p) => p.text !== undefined).map((p) => p.text!);
  let embedded: number[][] = [];
  // No format asked: the vectors come back as numbers.
  if (texts.length) embedded = (await embedTexts(c, { texts })).result.vectors!;
  let next = 0;
  const points = body.points.map((p) => ({
    id: p.id,
    vector: p.vector ?? embedded[next++]!,
    payload: p.payload,
  }));
  const dimension = points[0]!.vector.length;
  if (points.some((p) => p.vector.length !== dimension)) {
    throw new AppError(400, 'dimension_mismatch', 'All vectors in one upsert must have the same dimension.', {
      param: 'points',
    });
  }
  const upserted = await withStore(c, async (store) => {
    await store.ensureCollection(ref, dimension);
    return store.upsert(ref, points);
  });
  return c.json({ upserted });
});

routes.post('/v1/vectors/:collection/search', async (c) => {
  const ref = collectionOf(c, 'read');
  const body = await readJson(c, searchBody(), maxBodyBytes('embed'));
  const query = body.vector ?? (await embedTexts(c, { texts: [body.query!] })).result.vectors![0]!;
  const results = await withStore(c, (store) => store.search(ref, query, body.limit, body.filter));
  return c.json({ results });
});

export const embedFunction = defineFunction('embed', routes);
