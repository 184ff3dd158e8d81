import type { Client } from '../db/postgres.ts';
import { canonicalEntry, chainHash, GENESIS_HASH, type HashedEntry } from './ledger-hash.ts';

export interface AppendResult {
  seq: number;
  row_hash: string;
  prev_hash: string;
}

export interface ActionState {
  input_hash: string;
  approval_id?: string | null;
}

/**
 * Appends one entry to the chain in a single statement: the chain head's row lock serialises
 * writers, the database computes `row_hash = sha256(prev_hash || canonical)` from the canonical
 * text given here, and the action's state row is written by the same statement. So the chain can
 * neither fork nor leave an entry without its state, and the lock is held for one statement only.
 */
export async function appendLedgerEntry(
  client: Client,
  entry: HashedEntry,
  state?: ActionState,
): Promise<AppendResult> {
  const canonical = canonicalEntry(entry);
  const { rows } = await client.query<AppendResult>(
    `with prev as (
       select seq, row_hash from audit.chain_head where id = 1 for update
     ), head as (
       update audit.chain_head h
          set seq = prev.seq + 1,
              row_hash = encode(sha256(convert_to(prev.row_hash || $1::text, 'UTF8')), 'hex')
         from prev
        where h.id = 1
       returning h.seq, h.row_hash, prev.row_hash as prev_hash
     ), entry as (
       insert into audit.action_logs (seq, id, action_id, entry_type, created_at, agent_id, agent_name,
         action_type, category, tool_name, inputs, outputs, error, status, correlation_id, trace_id,
         principal, policy_version, approval_bypassed, redaction_rules, detail, prev_hash, row_hash)
       select head.seq, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15, $16,
              $17, $18, $19, $20::text[], $21::jsonb, head.prev_hash, head.row_hash
         from head
       returning seq, row_hash, prev_hash, action_id, created_at
     ), state as (
       insert into audit.actions (action_id, agent_id, agent_name, action_type, category, tool_name, status,
         principal, correlation_id, input_hash, approval_id, created_at, updated_at, first_seq, last_seq)
       select entry.action_id, $6, $7, $8, $9, $10, $14, $17, $15, coalesce($22, ''), $23::uuid,
              entry.created_at, entry.created_at, entry.seq, entry.seq
         from entry
       on conflict (action_id) do update
          set status = excluded.status, updated_at = excluded.updated_at, last_seq = excluded.last_seq
     )
     select seq::int as seq, row_hash, prev_hash from entry`,
    [
      canonical,
      entry.id,
      entry.action_id,
      entry.entry_type,
      entry.created_at,
      entry.agent_id,
      entry.agent_name,
      entry.action_type,
      entry.category,
      entry.tool_name,
      json(entry.inputs),
      json(entry.outputs),
      entry.error,
      entry.status,
      entry.correlation_id,
      entry.trace_id,
      entry.principal,
      entry.policy_version,
      entry.approval_bypassed,
      entry.redaction_rules,
      json(entry.detail),
      state?.input_hash ?? null,
      state?.approval_id ?? null,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error('ledger append returned no row');
  return row;
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

interface StoredRow extends Omit<HashedEntry, 'created_at'> {
  seq: string | number;
  created_at: Date | string;
  prev_hash: string;
  row_hash: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  first_bad?: { seq: number; id: string; reason: string };
}

/**
 * Recomputes the chain in pages of `pageSize` by seq (keyset, so memory stays flat on millions
 * of rows). Any edited row (hash mismatch), deleted row (seq gap or broken link) or reordering
 * (broken link) is reported at the first row where it shows.
 */
export async function verifyLedger(client: Client, pageSize = 1000): Promise<VerifyResult> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  for (;;) {
    const { rows } = await client.query<StoredRow>(
      `select seq, id, action_id, entry_type, created_at, agent_id, agent_name, action_type, category,
              tool_name, inputs, outputs, error, status, correlation_id, trace_id, principal,
              policy_version, approval_bypassed, redaction_rules, detail, prev_hash, row_hash
         from audit.action_logs where seq >= $1 order by seq limit $2`,
      [expectedSeq, pageSize],
    );
    for (const row of rows) {
      const seq = Number(row.seq);
      const bad = (reason: string): VerifyResult => ({
        ok: false,
        checked,
        first_bad: { seq, id: row.id, reason },
      });
      if (seq !== expectedSeq) return bad(`seq ${expectedSeq} is missing (next is ${seq})`);
      if (row.prev_hash !== prevHash) return bad('prev_hash does not link to the previous row');
      const created =
        row.created_at instanceof Date
          ? row.created_at.toISOString()
          : new Date(row.created_at).toISOString();
      const recomputed = chainHash(prevHash, canonicalEntry({ ...row, created_at: created }));
      if (recomputed !== row.row_hash) return bad('row_hash does not match the row content');
      prevHash = row.row_hash;
      expectedSeq++;
      checked++;
    }
    if (rows.length < pageSize) break;
  }
  const { rows: head } = await client.query<{ seq: string; row_hash: string }>(
    'select seq, row_hash from audit.chain_head where id = 1',
  );
  if (head[0] && (Number(head[0].seq) !== checked || head[0].row_hash !== prevHash)) {
    return {
      ok: false,
      checked,
      first_bad: {
        seq: checked + 1,
        id: '',
        reason: `chain head is at seq ${head[0].seq}: rows after ${checked} are missing`,
      },
    };
  }
  return { ok: true, checked };
}
