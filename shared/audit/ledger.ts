/**
 * The append path and the sealer. Writers insert concurrently (no shared row lock): the entry,
 * its place in the sealing queue and the action's state in one statement, durable at commit. The
 * sealer (`audit.seal`, one per log at a time under an advisory lock) then assigns seq, the chain
 * hash and the tree nodes in batches; proofs and checkpoints read sealed rows only.
 */
import type { Client } from '../db/postgres.ts';
import { canonicalEntry, type HashedEntry } from './ledger-hash.ts';
import type { Hash } from './ledger-tree.ts';

/** The log every route writes. Other names are for tests that must not touch `main`. */
export const MAIN_LOG = 'main';

export interface AppendResult {
  /** The entry's id; its seq is assigned when it is sealed. */
  id: string;
}

export interface ActionState {
  input_hash: string;
  approval_id?: string | null;
}

export interface AppendOptions {
  log?: string;
}

/**
 * Appends entries in one statement: each row of `audit.action_logs`, its place in the sealing
 * queue and its action's state (`audit.actions`). Rows map to columns by name, so a field added
 * to `HashedEntry` needs only its column. Nothing is locked beyond the rows written.
 */
export async function appendLedgerEntries(
  client: Client,
  items: ReadonlyArray<{ entry: HashedEntry; state?: ActionState }>,
  options: AppendOptions = {},
): Promise<AppendResult[]> {
  if (items.length === 0) return [];
  const entries = items.map(({ entry }) => ({ ...entry, redaction_rules: entry.redaction_rules ?? [] }));
  // Only the columns of audit.actions: the entry's inputs and detail would be sent and parsed twice.
  const states = items.map(({ entry, state }) => ({
    action_id: entry.action_id,
    agent_id: entry.agent_id,
    agent_name: entry.agent_name,
    action_type: entry.action_type,
    category: entry.category,
    tool_name: entry.tool_name,
    status: entry.status,
    principal: entry.principal,
    correlation_id: entry.correlation_id,
    input_hash: state?.input_hash ?? '',
    approval_id: state?.approval_id ?? null,
    created_at: entry.created_at,
    updated_at: entry.created_at,
  }));
  // audit.append_entries (migration 0024) is the only writer of the sealing queue: it queues
  // exactly the entries it inserts, so the sealer need not look each one up.
  const { rows } = await client.query<{ id: string }>(
    'select id from audit.append_entries($1::jsonb, $2::jsonb, $3, $4::jsonb) as id',
    [
      JSON.stringify(entries),
      JSON.stringify(items.map(({ entry }) => ({ id: entry.id, canonical: canonicalEntry(entry) }))),
      options.log ?? MAIN_LOG,
      JSON.stringify(lastStatePerAction(states)),
    ],
  );
  if (rows.length !== items.length) throw new Error('ledger append wrote fewer rows than asked');
  return items.map(({ entry }) => ({ id: entry.id }));
}

/** One upsert per action per statement (Postgres refuses to touch a row twice in one). */
function lastStatePerAction<T extends { action_id: string; status: string; updated_at: string }>(
  states: T[],
): T[] {
  const byAction = new Map<string, T>();
  for (const s of states) {
    const first = byAction.get(s.action_id);
    byAction.set(s.action_id, first ? { ...first, status: s.status, updated_at: s.updated_at } : s);
  }
  return [...byAction.values()];
}

/** Appends one entry (see appendLedgerEntries). */
export async function appendLedgerEntry(
  client: Client,
  entry: HashedEntry,
  state?: ActionState,
  options: AppendOptions = {},
): Promise<AppendResult> {
  const [result] = await appendLedgerEntries(client, [{ entry, ...(state ? { state } : {}) }], options);
  return result!;
}

// One seal of 5,000 is a few hundred ms on a loaded machine: big enough to keep up with batched
// writers, small enough to keep the lag of the rows behind it short.
const SEAL_BATCH = 5000;

/**
 * Seals what is queued in `log` until the queue is empty or another sealer holds the log. The
 * re-check after each commit closes the gap where a writer queued a row while this sealer still
 * held the lock (that writer's own attempt then found the lock taken and left it to us).
 */
export async function sealPending(client: Client, log: string = MAIN_LOG): Promise<number> {
  let sealed = 0;
  for (;;) {
    const { rows } = await client.query<{ n: number }>('select audit.seal($1, $2) as n', [log, SEAL_BATCH]);
    const n = rows[0]?.n ?? 0;
    if (n < 0) return sealed;
    sealed += n;
    if (n === SEAL_BATCH) continue;
    const { rows: more } = await client.query<{ queued: boolean }>(
      'select exists (select 1 from audit.ledger_queue where log = $1) as queued',
      [log],
    );
    if (!more[0]?.queued) return sealed;
  }
}

/** Seals `log` completely, waiting for a concurrent sealer if there is one (reads that need it all). */
export async function sealAll(client: Client, log: string = MAIN_LOG, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await sealPending(client, log);
    const { rows } = await client.query<{ queued: boolean }>(
      'select exists (select 1 from audit.ledger_queue where log = $1) as queued',
      [log],
    );
    if (!rows[0]?.queued) return;
    if (Date.now() > deadline) throw new Error(`the ledger sealer did not drain log ${log}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Logs that have queued entries (the scheduled handler seals each). */
export async function queuedLogs(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ log: string }>('select distinct log from audit.ledger_queue');
  return rows.map((r) => r.log);
}

export async function treeSize(client: Client, log: string = MAIN_LOG): Promise<number> {
  const { rows } = await client.query<{ n: string | null }>(
    'select max(seq) as n from audit.ledger_seq where log = $1',
    [log],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Stored tree nodes by (level, idx), in one query. */
export async function fetchNodes(
  client: Client,
  log: string,
  refs: Array<[number, number]>,
): Promise<Map<string, Hash>> {
  const { rows } = await client.query<{ level: number; idx: string; hash: Uint8Array }>(
    `select n.level, n.idx, n.hash from audit.tree_nodes n
       join unnest($2::int[], $3::bigint[]) as r(level, idx) on n.level = r.level and n.idx = r.idx
      where n.log = $1`,
    [log, refs.map((r) => r[0]), refs.map((r) => String(r[1]))],
  );
  return new Map(rows.map((r) => [`${r.level}:${Number(r.idx)}`, new Uint8Array(r.hash)]));
}
