import { makeReceipt, redeemReceipt } from '../approvals/index.ts';
import type { Principal } from '../auth/api-keys.ts';
import type { Client } from '../db/postgres.ts';

/**
 * Ties an MCP tool call to its approval. The approval is bound to the hash of the call's
 * canonical inputs (server, tool, arguments and the SHA-256 of the unredacted call), so a retry
 * finds the approval of exactly the same call, and any other arguments never do.
 *
 * The lookup is a read of the approval rows (the approvals module has no lookup by input hash
 * yet); redemption goes through the approvals module.
 */
export interface LinkedApproval {
  action_id: string;
  approval_id: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  used: boolean;
  /** Seconds since the receipt was redeemed (the call executed), when it was. */
  usedSecondsAgo: number | null;
  reason: string | null;
}

/** The newest approval of this principal's call with these inputs, if any. */
export async function findCallApproval(
  client: Client,
  key: { principal: string; actionType: string; inputHash: string },
): Promise<LinkedApproval | undefined> {
  const { rows } = await client.query<{
    action_id: string;
    approval_id: string;
    status: 'pending' | 'approved' | 'rejected';
    expired: boolean;
    used: boolean;
    used_seconds_ago: number | null;
    reason: string | null;
  }>(
    `select a.action_id, a.approval_id, ap.status, (ap.status = 'pending' and ap.expires_at <= now()) as expired,
            ap.receipt_used_at is not null as used,
            extract(epoch from now() - ap.receipt_used_at)::float8 as used_seconds_ago, ap.reason
       from audit.actions a join audit.approvals ap on ap.id = a.approval_id
      where a.principal = $1 and a.input_hash = $2 and a.action_type = $3
      order by a.created_at desc limit 1`,
    [key.principal, key.inputHash, key.actionType],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    action_id: row.action_id,
    approval_id: row.approval_id,
    status: row.expired ? 'expired' : row.status,
    used: row.used,
    usedSecondsAgo: row.used_seconds_ago,
    reason: row.reason,
  };
}

/**
 * Redeems the approval's receipt for this exact call, once, through the approvals module (one
 * statement; a concurrent second redeem gets 409 `receipt_used`). The gateway holds the receipt
 * on the agent's behalf: an MCP client only ever retries the same call.
 */
export async function redeemCallApproval(
  client: Client,
  args: { link: LinkedApproval; inputHash: string; principal: Principal; secret: string | undefined },
): Promise<void> {
  const receipt = args.secret
    ? await makeReceipt(args.secret, args.link.approval_id, args.link.action_id, args.inputHash)
    : undefined;
  await redeemReceipt(client, {
    actionId: args.link.action_id,
    receipt,
    principal: args.principal.id,
    inputHash: args.inputHash,
    secret: args.secret,
  });
}
