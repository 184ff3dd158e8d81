/**
 * Builds big ledgers fast, for tests and the bench: rows are generated and chained here and bulk
 * inserted with their seq and tree nodes (as a superuser, skipping the queue). The rows are what
 * the append path would have written, so every verifier treats them as real.
 */

import { canonicalEntry, chainHash, GENESIS_HASH, type HashedEntry } from '../shared/audit/ledger-hash.ts';
import type { Client } from '../shared/db/postgres.ts';

export function syntheticEntry(
  log: string,
  i: number,
  createdAt = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
): HashedEntry {
  return {
    id: crypto.randomUUID(),
    action_id: crypto.randomUUID(),
    entry_type: 'action',
    created_at: createdAt,
    agent_id: `bulk-${log}`,
    agent_name: 'Bulk',
    action_type: 'search',
    category: 'read',
    tool_name: null,
    inputs: { n: i, q: `query ${i}` },
    outputs: null,
    error: null,
    status: 'recorded',
    correlation_id: null,
    trace_id: null,
    principal: 'agent-bulk',
    policy_version: '0000000000000000',
    approval_bypassed: false,
    redaction_rules: [],
    detail: null,
  };
}

/**
 * Appends `count` sealed rows to `log` (which must not be sealing concurrently), continuing its
 * chain. Returns the entries in seq order.
 */
export async function bulkAppend(
  client: Client,
  log: string,
  count: number,
  options: { batch?: number; onBatch?: (done: number) => void } = {},
): Promise<Array<HashedEntry & { seq: number; row_hash: string }>> {
  const { rows: head } = await client.query<{ seq: string | null; row_hash: string | null }>(
    'select seq, row_hash from audit.ledger_seq where log = $1 order by seq desc limit 1',
    [log],
  );
  let seq = Number(head[0]?.seq ?? 0);
  let prev = head[0]?.row_hash ?? GENESIS_HASH;
  const first = seq;
  const out: Array<HashedEntry & { seq: number; row_hash: string }> = [];
  const batch = options.batch ?? 5000;
  for (let done = 0; done < count; done += batch) {
    const entries: HashedEntry[] = [];
    const seqs: Array<{ seq: number; entry_id: string; prev_hash: string; row_hash: string }> = [];
    for (let i = done; i < Math.min(count, done + batch); i++) {
      const e = syntheticEntry(log, first + i);
      seq++;
      const row_hash = chainHash(prev, canonicalEntry(e));
      seqs.push({ seq, entry_id: e.id, prev_hash: prev, row_hash });
      prev = row_hash;
      entries.push(e);
      out.push({ ...e, seq, row_hash });
    }
    await client.query(
      `with e as (
         insert into audit.action_logs select * from jsonb_populate_recordset(null::audit.action_logs, $1::jsonb)
       )
       insert into audit.ledger_seq (log, seq, entry_id, prev_hash, row_hash)
       select $3, s.seq, s.entry_id, s.prev_hash, s.row_hash
         from jsonb_to_recordset($2::jsonb) as s(seq bigint, entry_id uuid, prev_hash text, row_hash text)`,
      [JSON.stringify(entries), JSON.stringify(seqs), log],
    );
    options.onBatch?.(Math.min(count, done + batch));
  }
  await rebuildTree(client, log, first);
  return out;
}

/** (Re)computes the tree nodes of `log` from its ledger_seq rows after seq `from` (0: all). */
export async function rebuildTree(client: Client, log: string, from = 0): Promise<void> {
  const { rows } = await client.query<{ n: string }>(
    'select count(*) as n from audit.ledger_seq where log = $1',
    [log],
  );
  await client.query(
    `insert into audit.tree_nodes (log, level, idx, hash)
     select log, 0, seq - 1, sha256('\\x00'::bytea || decode(row_hash, 'hex'))
       from audit.ledger_seq where log = $1 and seq > $2`,
    [log, from],
  );
  await client.query('select audit.tree_extend($1, $2, $3)', [log, from, Number(rows[0]!.n)]);
}
