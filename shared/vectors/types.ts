export type PointId = string | number;

export interface VectorPoint {
  id: PointId;
  vector: number[];
  payload: Record<string, unknown>;
}

export interface SearchHit {
  id: PointId;
  score: number;
  payload: Record<string, unknown>;
}

import type { CollectionRef } from './tenancy.ts';

/** Vector memory, by collection. Both adapters use cosine similarity (score 1 = same direction). */
export interface VectorStore {
  readonly backend: 'qdrant' | 'pgvector';
  /** Creates the collection on first use with this dimension; refuses a different one later. */
  ensureCollection(ref: CollectionRef, dimension: number): Promise<void>;
  upsert(ref: CollectionRef, points: VectorPoint[]): Promise<number>;
  /** `filter`: payload fields that must equal the given values. */
  search(
    ref: CollectionRef,
    vector: number[],
    limit: number,
    filter: Record<string, unknown>,
  ): Promise<SearchHit[]>;
}
