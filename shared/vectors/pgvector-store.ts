import type { Client } from '../db/postgres.ts';
import { AppError } from '../errors/index.ts';
import { lazy } from '../http/lazy.ts';
import { boundedCache } from '../http/lru.ts';
import type { CollectionRef } from './tenancy.ts';
import type { PointId, SearchHit, VectorPoint, VectorStore } from './types.ts';

interface CollectionTable {
  table: string;
  dimension: number;
}

/**
 * Collections this isolate has seen: a table, once created, never changes its name or dimension,
 * so the look-up is safe to keep (bounded, least recently used out).
 */
const known = lazy(() => boundedCache<string, CollectionTable>(1000));
const keyOf = (ref: CollectionRef) => `${ref.namespace}\u0000${ref.name}`;

/**
 * pgvector in the same Postgres: one table per collection, created by the first upsert through
 * `vectors.ensure_collection` (migrations/0041: it owns the DDL, so the application role needs no
 * CREATE), with an HNSW cosine index. A Postgres without pgvector gets a clear 503.
 */
export function createPgvectorStore(client: Client): VectorStore {
  const lookup = async (ref: CollectionRef): Promise<CollectionTable | undefined> => {
    const cached = known().get(keyOf(ref));
    if (cached) return cached;
    const { rows } = await client.query<{ table_name: string; dimension: number }>(
      'select table_name, dimension from vectors.collections where namespace = $1 and name = $2',
      [ref.namespace, ref.name],
    );
    if (!rows[0]) return undefined;
    const found = { table: rows[0].table_name, dimension: rows[0].dimension };
    known().set(keyOf(ref), found);
    return found;
  };
  const mismatch = (ref: CollectionRef, has: number, wanted: number) =>
    new AppError(
      409,
      'dimension_mismatch',
      `Collection '${ref.name}' holds vectors of ${has} dimensions, not ${wanted}.`,
    );

  return {
    backend: 'pgvector',
    async ensureCollection(ref, dimension) {
      let found = await lookup(ref);
      if (!found) {
        try {
          const { rows } = await client.query<{ table_name: string; dimension: number }>(
            'select table_name, dimension from vectors.ensure_collection($1, $2, $3)',
            [ref.namespace, ref.name, dimension],
          );
          found = { table: rows[0]!.table_name, dimension: rows[0]!.dimension };
        } catch (err) {
          if ((err as { code?: string }).code === '0A000') {
            throw new AppError(
              503,
              'vector_store_unavailable',
              'pgvector is not installed on this Postgres; set QDRANT_URL or install pgvector.',
            );
          }
          throw err;
        }
        known().set(keyOf(ref), found);
      }
      if (found.dimension !== dimension) throw mismatch(ref, found.dimension, dimension);
    },
    async upsert(ref, points: VectorPoint[]) {
      const found = await lookup(ref);
      if (!found) throw new AppError(404, 'collection_not_found', `Collection '${ref.name}' does not exist.`);
      // One statement for every point. Within one upsert the last point with an id wins (as in
      // Qdrant): ON CONFLICT may not touch the same row twice.
      const byId = new Map<string, VectorPoint>();
      for (const p of points) byId.set(String(p.id), p);
      const ids: string[] = [];
      const vectors: string[] = [];
      const payloads: string[] = [];
      for (const [id, p] of byId) {
        ids.push(id);
        vectors.push(`[${p.vector.join(',')}]`);
        payloads.push(JSON.stringify(p.payload));
      }
      await client.query(
        `insert into vectors.${quoteIdent(found.table)} (id, embedding, payload)
         select id, embedding::text::vector, payload
           from unnest($1::text[], $2::text[], $3::jsonb[]) as p (id, embedding, payload)
         on conflict (id) do update set embedding = excluded.embedding, payload = excluded.payload`,
        [ids, vectors, payloads],
      );
      return points.length;
    },
    async search(ref, vector, limit, filter) {
      const found = await lookup(ref);
      if (!found) return [];
      if (found.dimension !== vector.length) throw mismatch(ref, found.dimension, vector.length);
      const { rows } = await client.query<{ id: string; score: number; payload: Record<string, unknown> }>(
        `select id, 1 - (embedding <=> $1::text::vector) as score, payload from vectors.${quoteIdent(found.table)}
          where payload @> $2::jsonb order by embedding <=> $1::text::vector limit $3`,
        [`[${vector.join(',')}]`, JSON.stringify(filter), limit],
      );
      return rows.map(
        (r): SearchHit => ({ id: restoreId(r.id), score: Number(r.score), payload: r.payload }),
      );
    },
  };
}

/** Table names come from vectors.collections (`c_` + hex), never from the caller; quoted anyway. */
function quoteIdent(name: string): string {
  if (!/^c_[0-9a-f]{24}$/.test(name)) throw new Error('unexpected vector table name');
  return `"${name}"`;
}

function restoreId(id: string): PointId {
  return /^\d+$/.test(id) && Number.isSafeInteger(Number(id)) ? Number(id) : id;
}
