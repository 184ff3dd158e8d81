import type { Client } from '../db/postgres.ts';
import { AppError } from '../errors/index.ts';
import type { PointId, SearchHit, VectorPoint, VectorStore } from './types.ts';

/**
 * pgvector in the same Postgres: one table per collection (`vectors.c_<name>`, the dimension is
 * part of the column type), cosine distance. A Postgres without the extension gets a clear 503.
 */
export function createPgvectorStore(client: Client): VectorStore {
  return {
    backend: 'pgvector',
    async ensureCollection(name, dimension) {
      const { rows } = await client.query<{ installed: boolean; available: boolean }>(
        `select exists(select 1 from pg_extension where extname = 'vector') as installed,
                exists(select 1 from pg_available_extensions where name = 'vector') as available`,
      );
      if (!rows[0]?.installed) {
        if (!rows[0]?.available) {
          throw new AppError(
            503,
            'vector_store_unavailable',
            'pgvector is not installed on this Postgres; set QDRANT_URL or install pgvector.',
          );
        }
        await client.query('create extension if not exists vector');
      }
      const table = tableName(name);
      await client.query(
        `create table if not exists ${table} (id text primary key, embedding vector(${dimension}) not null, payload jsonb not null default '{}')`,
      );
      const { rows: dims } = await client.query<{ dims: number }>(
        `select atttypmod as dims from pg_attribute where attrelid = $1::regclass and attname = 'embedding'`,
        [table],
      );
      const dims0 = dims[0]?.dims;
      if (dims0 !== undefined && dims0 > 0 && dims0 !== dimension) {
        throw new AppError(
          409,
          'dimension_mismatch',
          `Collection '${name}' holds vectors of ${dims0} dimensions, not ${dimension}.`,
        );
      }
    },
    async upsert(name, points: VectorPoint[]) {
      const table = tableName(name);
      for (const p of points) {
        await client.query(
          `insert into ${table} (id, embedding, payload) values ($1, $2::vector, $3::jsonb)
           on conflict (id) do update set embedding = excluded.embedding, payload = excluded.payload`,
          [String(p.id), `[${p.vector.join(',')}]`, JSON.stringify(p.payload)],
        );
      }
      return points.length;
    },
    async search(name, vector, limit, filter) {
      const table = tableName(name);
      const exists = await client.query<{ t: string | null }>('select to_regclass($1) as t', [table]);
      if (!exists.rows[0]?.t) return [];
      const { rows } = await client.query<{ id: string; score: number; payload: Record<string, unknown> }>(
        `select id, 1 - (embedding <=> $1::vector) as score, payload from ${table}
          where payload @> $2::jsonb order by embedding <=> $1::vector limit $3`,
        [`[${vector.join(',')}]`, JSON.stringify(filter), limit],
      );
      return rows.map(
        (r): SearchHit => ({ id: restoreId(r.id), score: Number(r.score), payload: r.payload }),
      );
    },
  };
}

/** Collection names are validated by the route; the prefix keeps them clear of other tables. */
function tableName(name: string): string {
  if (!/^[a-z0-9_]{1,48}$/.test(name))
    throw new AppError(400, 'invalid_collection', 'Invalid collection name.', { param: 'collection' });
  return `vectors.c_${name}`;
}

function restoreId(id: string): PointId {
  return /^\d+$/.test(id) && Number.isSafeInteger(Number(id)) ? Number(id) : id;
}
