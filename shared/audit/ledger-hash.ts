import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export const GENESIS_HASH = '0'.repeat(64);

export type EntryType = 'action' | 'status' | 'approval' | 'decision' | 'expired';

/** Every stored column of a ledger entry except seq and the two hashes: what the hash covers. */
export interface HashedEntry {
  id: string;
  action_id: string;
  entry_type: EntryType;
  created_at: string;
  agent_id: string;
  agent_name: string | null;
  action_type: string;
  category: string;
  tool_name: string | null;
  inputs: unknown;
  outputs: unknown;
  error: string | null;
  status: string;
  correlation_id: string | null;
  trace_id: string | null;
  principal: string | null;
  policy_version: string;
  approval_bypassed: boolean;
  redaction_rules: string[];
  detail: unknown;
}

/** RFC 8785 canonical JSON of the hashed fields, so the hash is independent of key order. */
export function canonicalEntry(entry: HashedEntry): string {
  const fields: HashedEntry = {
    id: entry.id,
    action_id: entry.action_id,
    entry_type: entry.entry_type,
    created_at: entry.created_at,
    agent_id: entry.agent_id,
    agent_name: entry.agent_name ?? null,
    action_type: entry.action_type,
    category: entry.category,
    tool_name: entry.tool_name ?? null,
    inputs: entry.inputs ?? null,
    outputs: entry.outputs ?? null,
    error: entry.error ?? null,
    status: entry.status,
    correlation_id: entry.correlation_id ?? null,
    trace_id: entry.trace_id ?? null,
    principal: entry.principal ?? null,
    policy_version: entry.policy_version,
    approval_bypassed: entry.approval_bypassed,
    redaction_rules: entry.redaction_rules ?? [],
    detail: entry.detail ?? null,
  };
  const text = canonicalize(fields);
  if (text === undefined) throw new Error('ledger entry cannot be canonicalised');
  return text;
}

/** row_hash = sha256(prev_hash || canonical JSON), hex; the database computes the same on append. */
export function chainHash(prevHash: string, canonical: string): string {
  return createHash('sha256')
    .update(prevHash + canonical, 'utf8')
    .digest('hex');
}

/** SHA-256 of redacted canonical inputs: what an approval binds to. */
export function inputHash(inputs: unknown): string {
  return createHash('sha256')
    .update(canonicalize(inputs ?? null) ?? 'null', 'utf8')
    .digest('hex');
}
