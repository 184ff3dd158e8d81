import { receiptMatches } from '../approvals/receipts.ts';
import { inputHash } from '../audit/ledger-hash.ts';
import type { Principal } from '../auth/api-keys.ts';
import type { Client } from '../db/postgres.ts';
import { AppError } from '../errors/index.ts';
import { redactSecrets } from '../redact/index.ts';

/** What an integration write is recorded and approved as: redacted, and hashed the same way. */
export function requestSummary(parts: {
  integration: string;
  method: string;
  path: string;
  query: string;
  body: unknown;
}) {
  return redactSecrets<Record<string, unknown>>(parts, { emails: true }).value;
}

/**
 * The retry of a gated write: the receipt must belong to this principal's approved action and
 * to exactly these (redacted) inputs, and works once. Marked used before the call is forwarded,
 * so two concurrent retries cannot both go through.
 */
export async function redeemProxyReceipt(
  client: Client,
  args: {
    actionId: string;
    receipt: string;
    summary: Record<string, unknown>;
    principal: Principal;
    secret: string | undefined;
  },
): Promise<void> {
  if (!args.secret)
    throw new AppError(
      503,
      'receipts_unconfigured',
      'APPROVAL_SECRET is not set; receipts cannot be checked.',
    );
  await client.query('begin');
  try {
    const { rows } = await client.query<{
      principal: string | null;
      input_hash: string;
      approval_id: string | null;
      ap_status: string | null;
      receipt_used_at: Date | null;
    }>(
      `select a.principal, a.input_hash, a.approval_id, ap.status as ap_status, ap.receipt_used_at
         from audit.actions a left join audit.approvals ap on ap.id = a.approval_id
        where a.action_id = $1 for update of a`,
      [args.actionId],
    );
    const row = rows[0];
    if (!row || row.principal !== args.principal.id || !row.approval_id) {
      throw new AppError(403, 'invalid_receipt', 'No approved action of yours matches this receipt.');
    }
    if (row.ap_status !== 'approved')
      throw new AppError(409, 'not_approved', `The approval is ${row.ap_status ?? 'missing'}.`);
    if (inputHash(args.summary) !== row.input_hash) {
      throw new AppError(403, 'invalid_receipt', 'This request differs from the one that was approved.');
    }
    if (!(await receiptMatches(args.secret, args.receipt, row.approval_id, args.actionId, row.input_hash))) {
      throw new AppError(403, 'invalid_receipt', 'The receipt does not belong to this action.');
    }
    const used = await client.query(
      'update audit.approvals set receipt_used_at = now() where id = $1 and receipt_used_at is null',
      [row.approval_id],
    );
    if (!used.rowCount) throw new AppError(409, 'receipt_used', 'This receipt was already used.');
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}
