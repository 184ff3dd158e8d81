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

/**
 * How long an isolate gathers rows before one statement writes them (USAGE_FLUSH_MS overrides).
 * Each batch costs a Postgres connection (Workers cannot keep one across requests), which was
 * 12-14 % of the isolate's time per chat request at a 20 ms window (a batch every few requests);
 * at 250 ms it is one connection per ~30-100 requests under load. What the window costs is
 * exposure, not latency: a row waits up to this long after its response (held by `waitUntil`,
 * which Workers honour for 30 s), so an isolate killed in that moment loses up to this window's
 * rows, as it lost up to 20 ms' before. Rows are priced and counted in Redis budgets already;
 * the table is the ledger of record read by /v1/usage, seconds stale at worst.
 */
const FLUSH_MS = 250;
/** A batch takes at most this many rows; the next row opens a new one. */
const MAX_BATCH = 200;
const ATTEMPTS = 4;

let open: UsageRow[] | undefined;

/**
 * Queues a usage row; rows of concurrent requests in this isolate go to Postgres together in one
 * statement, after the responses (waitUntil). At least once: a failed insert is retried with the
 * same idempotency keys, and `on conflict do nothing` keeps a retry from counting twice.
 *
 * Only the request that opens a batch hands its write to `waitUntil`: the timer and the
 * connection belong to that request (workerd binds timers and I/O to the request that made
 * them), so its `waitUntil` is what keeps them alive; the same promise in the others' would not,
 * and each `waitUntil` is a crossing into the runtime (about 5 % of the isolate's time per chat
 * request when every request made one).
 */
export function recordUsage(c: Context, row: UsageRow): void {
  const settings = getSettings(c.env);
  if (!settings.DATABASE_URL) return;
  if (open && open.length < MAX_BATCH) {
    open.push(row);
    return;
  }
  const rows = [row];
  open = rows;
  const done = new Promise<void>((resolve) => setTimeout(resolve, settings.USAGE_FLUSH_MS ?? FLUSH_MS)).then(
    async () => {
      if (open === rows) open = undefined;
      await insertWithRetry(rows, async (batch) => {
        await withPostgres(settings, (client) => insertUsage(client, batch), { connectTimeoutMs: 3000 });
      }).catch((err) => {
        c.get('log')?.error('usage rows could not be written', { rows: rows.length, error: err as Error });
      });
    },
  );
  runInBackground(c, done);
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
