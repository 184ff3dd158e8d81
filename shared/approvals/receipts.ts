import { base64urlEncode } from '../crypto/base64url.ts';
import { constantTimeEqual } from '../crypto/constant-time.ts';
import type { Client } from '../db/postgres.ts';
import { AppError } from '../errors/index.ts';

/**
 * Receipts: what an approved agent presents to complete its gated action. An HMAC of the approval,
 * the action and the hash of its redacted inputs, so nothing secret is stored, a receipt for one
 * action (or other inputs) never fits another, and the server can hand it out again on every poll.
 * Single use is enforced in the database (`receipt_used_at`).
 */
export async function makeReceipt(
  secret: string,
  approvalId: string,
  actionId: string,
  inputHash: string,
): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await crypto.subtle.sign(
    'HMAC',
    key,
    new TextEncoder().encode(`receipt:${approvalId}:${actionId}:${inputHash}`),
  );
  return `rcpt_${base64urlEncode(new Uint8Array(mac))}`;
}

export async function receiptMatches(
  secret: string,
  receipt: string,
  approvalId: string,
  actionId: string,
  inputHash: string,
): Promise<boolean> {
  return constantTimeEqual(await makeReceipt(secret, approvalId, actionId, inputHash), receipt);
}

export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message)));
  let out = '';
  for (const b of mac) out += b.toString(16).padStart(2, '0');
  return out;
}

export interface RedeemArgs {
  actionId: string;
  receipt: string | undefined;
  /** Whose action it must be (absent: an admin completing on the agent's behalf). */
  principal?: string;
  /** The hash of the inputs being carried out now (the proxy); absent: the recorded one. */
  inputHash?: string;
  secret: string | undefined;
}

/**
 * The one receipt redemption: a single statement that locks the action (so a concurrent cancel
 * waits for it, and it for a cancel), checks the action is still waiting on its approval (not
 * cancelled, completed or failed), the approval is approved, the receipt unused and the inputs
 * the approved ones, and marks the receipt used. It runs once per receipt whatever the
 * concurrency; when it does not, a read says why (409/403), nothing having changed.
 */
export async function redeemReceipt(client: Client, args: RedeemArgs): Promise<void> {
  if (!args.receipt) {
    throw new AppError(
      409,
      'receipt_required',
      'This action was gated: completing it needs the approval receipt.',
      {
        param: 'receipt',
      },
    );
  }
  if (!args.secret) {
    throw new AppError(
      503,
      'receipts_unconfigured',
      'APPROVAL_SECRET is not set; receipts cannot be checked.',
    );
  }
  const { rows: found } = await client.query<{
    approval_id: string | null;
    input_hash: string;
    principal: string | null;
  }>('select approval_id, input_hash, principal from audit.actions where action_id = $1', [args.actionId]);
  const action = found[0];
  if (!action?.approval_id || (args.principal !== undefined && action.principal !== args.principal)) {
    throw new AppError(403, 'invalid_receipt', 'No approved action of yours matches this receipt.', {
      param: 'receipt',
    });
  }
  if (args.inputHash !== undefined && args.inputHash !== action.input_hash) {
    throw new AppError(403, 'invalid_receipt', 'This request differs from the one that was approved.', {
      param: 'receipt',
    });
  }
  if (
    !(await receiptMatches(args.secret, args.receipt, action.approval_id, args.actionId, action.input_hash))
  ) {
    throw new AppError(403, 'invalid_receipt', 'The receipt does not belong to this action and its inputs.', {
      param: 'receipt',
    });
  }
  const { rowCount } = await client.query(
    `with a as (
       select action_id, approval_id from audit.actions
        where action_id = $1 and input_hash = $2 and status in ('pending_approval', 'approved')
        for update
     )
     update audit.approvals ap set receipt_used_at = now()
       from a
      where ap.id = a.approval_id and ap.status = 'approved' and ap.receipt_used_at is null`,
    [args.actionId, action.input_hash],
  );
  if (rowCount) return;
  const { rows } = await client.query<{ status: string; ap_status: string; receipt_used_at: Date | null }>(
    `select a.status, ap.status as ap_status, ap.receipt_used_at
       from audit.actions a join audit.approvals ap on ap.id = a.approval_id where a.action_id = $1`,
    [args.actionId],
  );
  const now = rows[0];
  if (now?.receipt_used_at)
    throw new AppError(409, 'receipt_used', 'This receipt was already used.', { param: 'receipt' });
  if (now && !['pending_approval', 'approved'].includes(now.status)) {
    throw new AppError(
      409,
      'invalid_transition',
      `The action is ${now.status}; its receipt no longer applies.`,
      {
        param: 'receipt',
      },
    );
  }
  throw new AppError(409, 'not_approved', `The approval is ${now?.ap_status ?? 'missing'}.`, {
    param: 'receipt',
  });
}
