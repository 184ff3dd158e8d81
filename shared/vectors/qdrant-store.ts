import { sha256Hex } from '../auth/api-keys.ts';
import { AppError } from '../errors/index.ts';
import { withDeadline } from '../resilience/deadline.ts';
import type { CollectionRef } from './tenancy.ts';
import type { SearchHit, VectorPoint, VectorStore } from './types.ts';

/**
 * The Qdrant collection behind a namespaced name: `<name>__<first 16 hex of SHA-256(namespace)>`.
 * Readable in Qdrant's UI, and two namespaces never share a collection (names are `[a-z0-9_]`
 * and the suffix is fixed-length, so the split is unambiguous).
 */
export async function qdrantCollectionName(ref: CollectionRef): Promise<string> {
  return `${ref.name}__${(await sha256Hex(ref.namespace)).slice(0, 16)}`;
}

/**
 * Qdrant over its REST API with plain fetch. (`@qdrant/js-client-rest` pulls in undici, which
 * does not belong in a Worker bundle; the four calls used here are small.)
 */
export function createQdrantStore(options: {
  url: string;
  apiKey?: string;
  timeoutMs?: number;
}): VectorStore {
  const base = options.url.replace(/\/+$/, '');
  const known = new Map<string, number>();
  // The deadline covers the body too; on Node it is cleared the moment the call settles (on
  // workerd it ends with the request: withDeadline's `callLimit`).
  const request = (method: string, path: string, body?: unknown) =>
    withDeadline(options.timeoutMs ?? 10_000, async (signal) => {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(options.apiKey ? { 'api-key': options.apiKey } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (err) {
        throw new AppError(503, 'vector_store_unavailable', 'Qdrant is unreachable.', { cause: err });
      }
      const text = await res.text();
      const json = text
        ? (JSON.parse(text) as { result?: unknown; status?: { error?: string } | string })
        : {};
      return { status: res.status, json };
    });

  return {
    backend: 'qdrant',
    async ensureCollection(ref, dimension) {
      const name = await qdrantCollectionName(ref);
      if (known.get(name) === dimension) return;
      const existing = await request('GET', `/collections/${encodeURIComponent(name)}`);
      if (existing.status === 200) {
        const size = (existing.json.result as { config?: { params?: { vectors?: { size?: number } } } })
          ?.config?.params?.vectors?.size;
        if (size !== undefined && size !== dimension) {
          throw new AppError(
            409,
            'dimension_mismatch',
            `Collection '${ref.name}' holds vectors of ${size} dimensions, not ${dimension}.`,
          );
        }
      } else if (existing.status === 404) {
        const created = await request('PUT', `/collections/${encodeURIComponent(name)}`, {
          vectors: { size: dimension, distance: 'Cosine' },
        });
        // 409: another isolate created it meanwhile.
        if (created.status !== 200 && created.status !== 409) throw qdrantError(created);
      } else {
        throw qdrantError(existing);
      }
      known.set(name, dimension);
    },
    async upsert(ref, points: VectorPoint[]) {
      const name = await qdrantCollectionName(ref);
      const res = await request('PUT', `/collections/${encodeURIComponent(name)}/points?wait=true`, {
        points,
      });
      if (res.status !== 200) throw qdrantError(res);
      return points.length;
    },
    async search(ref, vector, limit, filter) {
      const name = await qdrantCollectionName(ref);
      const must = Object.entries(filter).map(([key, value]) => ({ key, match: { value } }));
      const res = await request('POST', `/collections/${encodeURIComponent(name)}/points/search`, {
        vector,
        limit,
        with_payload: true,
        ...(must.length ? { filter: { must } } : {}),
      });
      if (res.status === 404) return [];
      if (res.status !== 200) throw qdrantError(res);
      return (res.json.result as SearchHit[]).map((h) => ({
        id: h.id,
        score: h.score,
        payload: h.payload ?? {},
      }));
    },
  };
}

function qdrantError(res: { status: number; json: { status?: { error?: string } | string } }): AppError {
  const detail = typeof res.json.status === 'object' ? res.json.status?.error : undefined;
  return new AppError(
    502,
    'vector_store_error',
    `Qdrant answered ${res.status}${detail ? `: ${detail.slice(0, 200)}` : ''}.`,
  );
}
