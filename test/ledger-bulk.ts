/**
 * Builds big ledgers fast, for tests and the bench: rows are generated and chained here and bulk
 * inserted with their seq and tree nodes (as a superuser, skipping the queue). The rows are what
 * the append path would have written, so every verifier treats them as real.
 */

import { timeOrderedUuid } from '../shared/audit/entry-id.ts';
import type { HashedEntry } from '../shared/audit/ledger-hash.ts';
import type { Client } from '../shared/db/postgres.ts';

export function syntheticEntry(
  log: string,
  i: number,
  createdAt = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
): HashedEntry {
  return {
    id: timeOrderedUuid(),
    action_id: timeOrderedUuid(),
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

export interface BulkRow extends HashedEntry {
  seq: number;
  row_hash: string;
}

const BULK_LOG = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * Appends `count` sealed rows to `log` (which must not be sealing concurrently), continuing its
 * chain, built inside Postgres: each batch is one statement that generates syntheticEntry's rows
 * (generate_series), writes their RFC 8785 canonical JSON with format() (every field of a
 * synthetic entry is a fixed shape, so the text is exactly what canonicalEntry writes; the tests
 * and the bench's verify recompute it in JS), chains them with the sealer's own `audit.chain`
 * window aggregate and writes entries, seq rows and leaves; the interior nodes follow per level
 * (audit.tree_extend). Nothing crosses the wire but the statement, so a 100,000-row log takes
 * seconds. Returns the number of rows written; `bulkRows` reads rows back.
 */
export async function bulkAppend(
  client: Client,
  log: string,
  count: number,
  options: { batch?: number; onBatch?: (done: number) => void } = {},
): Promise<number> {
  // The log name is written into the JSON unescaped: keep it to characters JSON does not escape.
  if (!BULK_LOG.test(log))
    throw new Error(`bulkAppend: log name ${JSON.stringify(log)} is not [A-Za-z0-9._:-]`);
  const { rows: head } = await client.query<{ seq: string | null }>(
    'select max(seq) as seq from audit.ledger_seq where log = $1',
    [log],
  );
  const first = Number(head[0]?.seq ?? 0);
  const batch = options.batch ?? 50_000;
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done);
    await client.query(
      `with head as (
         select coalesce((select row_hash from audit.ledger_seq where log = $1 order by seq desc limit 1),
                         repeat('0', 64)) as hash
       ), src as materialized (
         select $2::bigint + g as seq, ($2::bigint + g - 1) as i, gen_random_uuid() as id, gen_random_uuid() as action_id,
                to_char((timestamptz '2026-01-01 00:00:00Z' + ($2::bigint + g - 1) * interval '1 second')
                          at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
           from generate_series(1, $3::int) as g
       ), entries as (
         insert into audit.action_logs (id, action_id, entry_type, created_at, agent_id, agent_name, action_type,
                                        category, inputs, status, principal, policy_version, approval_bypassed,
                                        redaction_rules)
         select id, action_id, 'action', created_at::timestamptz, 'bulk-' || $1, 'Bulk', 'search', 'read',
                jsonb_build_object('n', i, 'q', 'query ' || i), 'recorded', 'agent-bulk', '0000000000000000',
                false, '{}'
           from src
       ), chained as materialized (
         select seq, id,
                audit.chain((select hash from head), format(
                  '{"action_id":"%s","action_type":"search","agent_id":"bulk-%s","agent_name":"Bulk",'
                  '"approval_bypassed":false,"category":"read","correlation_id":null,"created_at":"%s",'
                  '"detail":null,"entry_type":"action","error":null,"id":"%s","inputs":{"n":%s,"q":"query %s"},'
                  '"outputs":null,"policy_version":"0000000000000000","principal":"agent-bulk",'
                  '"redaction_rules":[],"status":"recorded","tool_name":null,"trace_id":null}',
                  action_id, $1, created_at, id, i, i))
                  over (order by seq rows between unbounded preceding and current row) as row_hash
           from src
       ), seqs as (
         insert into audit.ledger_seq (log, seq, entry_id, prev_hash, row_hash)
         select $1, seq, id, coalesce(lag(row_hash) over (order by seq), (select hash from head)), row_hash
           from chained
       )
       insert into audit.tree_nodes (log, level, idx, hash)
       select $1, 0, seq - 1, sha256('\\x00'::bytea || decode(row_hash, 'hex')) from chained`,
      [log, first + done, n],
    );
    options.onBatch?.(done + n);
  }
  await client.query('select audit.tree_extend($1, $2, $3)', [log, first, first + count]);
  return count;
}

/** Rows of `log` by seq, as the builder wrote them (entry fields, seq and row_hash). */
export async function bulkRows(client: Client, log: string, seqs: number[]): Promise<Map<number, BulkRow>> {
  const { rows } = await client.query<BulkRow & { created_at: Date | string; seq: string }>(
    `select s.seq, s.row_hash, l.* from audit.ledger_seq s join audit.action_logs l on l.id = s.entry_id
      where s.log = $1 and s.seq = any($2::bigint[])`,
    [log, seqs.map(String)],
  );
  return new Map(
    rows.map((r) => [
      Number(r.seq),
      { ...r, seq: Number(r.seq), created_at: new Date(r.created_at).toISOString() } as BulkRow,
    ]),
  );
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
