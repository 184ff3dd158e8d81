import type { Context } from 'hono';
import { withPostgres } from '../db/postgres.ts';
import { getSettings } from '../env.ts';
import { runInBackground } from '../http/background.ts';
import { backoffDelay, sleep } from '../resilience/backoff.ts';

/** One priced LLM call, as governance.usage stores it. */
export interface UsageRow {
  idempotency_key: string;
  principal: string;
  agent_id: string | null;
  role: string;
  endpoint: string;
  provider: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number | null;
  cache_hit: boolean;
  correlation_id: string | null;
}

const BATCH_DELAY_MS = 20;
const MAX_BATCH = 200;
const ATTEMPTS = 4;

interface Batch {
  rows: UsageRow[];
  done: Promise<void>;
}
let open: Batch | undefined;

/**
 * Queues a usage row; rows of concurrent requests in this isolate go to Postgres together in one
 * statement, after the responses (waitUntil). At least once: a failed insert is retried with the
 * same idempotency keys, and `on conflict do nothing` keeps a retry from counting twice.
 */
export function recordUsage(c: Context, row: UsageRow): void {
  const settings = getSettings(c.env);
  if (!settings.DATABASE_URL) return;
  if (!open || open.rows.length >= MAX_BATCH) {
    const batch: Batch = { rows: [], done: Promise.resolve() };
    batch.done = new Promise<void>((resolve) => setTimeout(resolve, BATCH_DELAY_MS)).then(async () => {
      if (open === batch) open = undefined;
      await insertWithRetry(batch.rows, async (rows) => {
        await withPostgres(settings, (client) => insertUsage(client, rows), { connectTimeoutMs: 3000 });
      }).catch((err) => {
        c.get('log')?.error('usage rows could not be written', {
          rows: batch.rows.length,
          error: err as Error,
        });
      });
    });
    open = batch;
  }
  open.rows.push(row);
  runInBackground(c, open.done);
}

async function insertWithRetry(rows: UsageRow[], insert: (rows: UsageRow[]) => Promise<void>) {
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      await insert(rows);
      return;
    } catch (err) {
      lastError = err;
      await sleep(backoffDelay({ base_ms: 100, max_ms: 400 }, attempt));
    }
  }
  throw lastError;
}

const COLUMNS = [
  'idempotency_key',
  'principal',
  'agent_id',
  'role',
  'endpoint',
  'provider',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'cost_usd',
  'cache_hit',
  'correlation_id',
] as const;
const TYPES = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'int8',
  'int8',
  'int8',
  'numeric',
  'bool',
  'text',
];

/** One statement for the whole batch: arrays unnested column by column. */
export async function insertUsage(
  client: { query: (text: string, values: unknown[]) => Promise<unknown> },
  rows: UsageRow[],
): Promise<void> {
  if (!rows.length) return;
  const params = COLUMNS.map((col) => rows.map((r) => r[col]));
  const unnest = COLUMNS.map((_, i) => `$${i + 1}::${TYPES[i]}[]`).join(', ');
  await client.query(
    `insert into governance.usage (${COLUMNS.join(', ')}) select * from unnest(${unnest})
     on conflict (idempotency_key) do nothing`,
    params,
  );
}
