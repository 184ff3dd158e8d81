import * as z from 'zod';
import { appendLedgerEntry } from '../audit/ledger.ts';
import type { HashedEntry } from '../audit/ledger-hash.ts';
import { isStorableText, UNSTORABLE_TEXT } from '../audit/storable.ts';
import type { Principal } from '../auth/api-keys.ts';
import { policyVersion } from '../config/index.ts';
import type { Client } from '../db/postgres.ts';
import { AppError, forbidden, notFound } from '../errors/index.ts';
import { approvalsTotal } from '../metrics/registry.ts';
import { redactSecrets } from '../redact/index.ts';
import { makeReceipt } from './receipts.ts';

export const decisionSchema = z
  .object({
    decision: z.enum(['approve', 'reject']),
    reason: z.string().trim().max(2000).refine(isStorableText, UNSTORABLE_TEXT).optional(),
  })
  .strict()
  .refine((d) => d.decision !== 'reject' || (d.reason && d.reason.length > 0), {
    message: 'a rejection needs a reason (the agent reads it so it does not retry the same call)',
    path: ['reason'],
  });

export type Decision = z.infer<typeof decisionSchema>;

export const listApprovalsQuerySchema = z.object({
  status: z.enum(['pending', 'approved', 'rejected', 'expired']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `?wait=<s>`: long-poll until decided, at most 25 s. */
export const waitQuerySchema = z.object({ wait: z.coerce.number().min(0).max(25).default(0) });

interface ApprovalRow {
  id: string;
  action_id: string;
  input_hash: string;
  status: 'pending' | 'approved' | 'rejected';
  quorum: number;
  approver_roles: string[];
  approver_principals: string[];
  requested_by: string | null;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  reason: string | null;
  receipt_used_at: Date | null;
  agent_id: string;
  agent_name: string | null;
  action_type: string;
  category: string;
  tool_name: string | null;
  action_principal: string | null;
  expired: boolean;
}

const SELECT_APPROVAL = `select ap.*, a.agent_id, a.agent_name, a.action_type, a.category, a.tool_name,
       a.principal as action_principal, (ap.status = 'pending' and ap.expires_at <= now()) as expired
  from audit.approvals ap join audit.actions a on a.action_id = ap.action_id`;

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

function statusOf(row: ApprovalRow): ApprovalStatus {
  return row.expired ? 'expired' : row.status;
}

/** The public shape; the same for the first decision and its replays. */
function present(row: ApprovalRow, approvals: number) {
  return {
    id: row.id,
    action_id: row.action_id,
    status: statusOf(row),
    agent_id: row.agent_id,
    agent_name: row.agent_name,
    action_type: row.action_type,
    category: row.category,
    tool_name: row.tool_name,
    requested_by: row.requested_by,
    quorum: row.quorum,
    approvals,
    created_at: row.created_at,
    expires_at: row.expires_at,
    decided_at: row.decided_at,
    decided_by: row.decided_by,
    reason: row.reason,
  };
}

export function mayDecide(
  row: Pick<ApprovalRow, 'approver_roles' | 'approver_principals'>,
  who: Principal,
): boolean {
  return row.approver_roles.includes(who.role) || row.approver_principals.includes(who.id);
}

export interface DecideContext {
  principal: Principal;
  correlationId: string;
  traceId: string;
}

/**
 * A compare-and-set on the approval row (locked for the transaction): the first decision wins,
 * the same decision replayed gets the same answer, a different one 409, the requester 403, a
 * non-approver 403, and after expiry 410 (expired is not rejected). Approvals count distinct
 * approvers up to the quorum; one rejection rejects. Each decision is a ledger entry.
 */
export async function decideApproval(
  client: Client,
  approvalId: string,
  decision: Decision,
  ctx: DecideContext,
) {
  await client.query('begin');
  try {
    const { rows } = await client.query<ApprovalRow>(`${SELECT_APPROVAL} where ap.id = $1 for update of ap`, [
      approvalId,
    ]);
    const row = rows[0];
    if (!row) throw notFound(`No approval ${approvalId}.`, 'approval_not_found');
    if (row.action_principal === ctx.principal.id || row.requested_by === ctx.principal.id) {
      throw forbidden('You cannot decide on your own action.');
    }
    if (!mayDecide(row, ctx.principal)) throw forbidden('You are not an approver for this action.');
    const wanted = decision.decision === 'approve' ? 'approved' : 'rejected';
    if (row.status !== 'pending') {
      await client.query('rollback');
      if (row.status !== wanted) {
        throw new AppError(409, 'already_decided', `This approval is already ${row.status}.`, {
          param: 'decision',
        });
      }
      return present(row, await countApprovals(client, approvalId));
    }
    if (row.expired) {
      throw new AppError(
        410,
        'approval_expired',
        `This approval expired at ${row.expires_at.toISOString()}.`,
      );
    }
    const reason = decision.reason ? redactSecrets<string>(decision.reason, { emails: true }).value : null;
    await client.query(
      `insert into audit.approval_decisions (approval_id, principal, decision, reason) values ($1, $2, $3, $4)
       on conflict (approval_id, principal) do nothing`,
      [approvalId, ctx.principal.id, decision.decision, reason],
    );
    const approvals = await countApprovals(client, approvalId);
    const terminal = decision.decision === 'reject' || approvals >= row.quorum;
    if (terminal) {
      const { rows: updated } = await client.query<{ decided_at: Date }>(
        `update audit.approvals set status = $2, decided_at = now(), decided_by = $3, reason = $4
          where id = $1 returning decided_at`,
        [approvalId, wanted, ctx.principal.id, reason],
      );
      row.status = wanted;
      row.decided_at = updated[0]!.decided_at;
      row.decided_by = ctx.principal.id;
      row.reason = reason;
    }
    await appendLedgerEntry(
      client,
      decisionEntry(row, {
        status: terminal ? wanted : 'pending_approval',
        principal: ctx.principal.id,
        correlationId: ctx.correlationId,
        traceId: ctx.traceId,
        detail: {
          approval_id: approvalId,
          decision: decision.decision,
          reason,
          approvals,
          quorum: row.quorum,
        },
        entryType: 'decision',
      }),
    );
    await client.query('commit');
    if (terminal) approvalsTotal.inc({ decision: decision.decision });
    return present(row, approvals);
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

async function countApprovals(client: Client, approvalId: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    "select count(*)::int as n from audit.approval_decisions where approval_id = $1 and decision = 'approve'",
    [approvalId],
  );
  return rows[0]?.n ?? 0;
}

function decisionEntry(
  row: ApprovalRow,
  e: {
    status: string;
    principal: string | null;
    correlationId: string | null;
    traceId: string | null;
    detail: Record<string, unknown>;
    entryType: 'decision' | 'expired';
  },
): HashedEntry {
  return {
    id: crypto.randomUUID(),
    action_id: row.action_id,
    entry_type: e.entryType,
    created_at: new Date().toISOString(),
    agent_id: row.agent_id,
    agent_name: row.agent_name,
    action_type: row.action_type,
    category: row.category,
    tool_name: row.tool_name,
    inputs: null,
    outputs: null,
    error: null,
    status: e.status,
    correlation_id: e.correlationId,
    trace_id: e.traceId,
    principal: e.principal,
    policy_version: policyVersion,
    approval_bypassed: false,
    redaction_rules: [],
    detail: e.detail,
  };
}

/**
 * One approval. The requesting principal gets the receipt once it is approved (until used);
 * approvers see the decision trail; other agents see nothing (404).
 */
export async function getApproval(
  client: Client,
  approvalId: string,
  viewer: Principal,
  receiptSecret?: string,
) {
  const { rows } = await client.query<ApprovalRow>(`${SELECT_APPROVAL} where ap.id = $1`, [approvalId]);
  const row = rows[0];
  const isRequester = row && (row.action_principal === viewer.id || row.requested_by === viewer.id);
  if (!row || (!isRequester && !mayDecide(row, viewer) && viewer.role !== 'admin')) {
    throw notFound(`No approval ${approvalId}.`, 'approval_not_found');
  }
  const view = {
    ...present(row, await countApprovals(client, approvalId)),
    receipt: undefined as string | undefined,
  };
  if (isRequester && row.status === 'approved' && !row.receipt_used_at) {
    if (!receiptSecret)
      throw new AppError(
        503,
        'receipts_unconfigured',
        'APPROVAL_SECRET is not set; receipts cannot be issued.',
      );
    view.receipt = await makeReceipt(receiptSecret, row.id, row.action_id, row.input_hash);
  }
  return view;
}

/** Approvals for the approver's queue, newest first; `pending` excludes expired ones. */
export async function listApprovals(
  client: Client,
  status: ApprovalStatus | undefined,
  viewer: Principal,
  limit = 100,
) {
  const where =
    status === 'pending'
      ? "ap.status = 'pending' and ap.expires_at > now()"
      : status === 'expired'
        ? "ap.status = 'pending' and ap.expires_at <= now()"
        : status
          ? 'ap.status = $2'
          : 'true';
  const params: unknown[] = [limit];
  if (status === 'approved' || status === 'rejected') params.push(status);
  const { rows } = await client.query<ApprovalRow & { inputs: unknown; approvals: number }>(
    `select x.*, l.inputs, (select count(*)::int from audit.approval_decisions d where d.approval_id = x.id and d.decision = 'approve') as approvals
       from (${SELECT_APPROVAL} where ${where} order by ap.created_at desc limit $1) x
       join audit.action_logs l on l.action_id = x.action_id and l.entry_type = 'action'`,
    params,
  );
  return rows
    .filter((r) => viewer.role === 'admin' || mayDecide(r, viewer))
    .map((r) => ({ ...present(r, r.approvals), inputs: r.inputs }));
}

/**
 * Writes the `expired` ledger entry for approvals that passed their expiry undecided (the
 * scheduled handler). Reads already say `expired` from the clock; this makes it part of history.
 */
export async function logExpiredApprovals(client: Client, limit = 100): Promise<number> {
  let logged = 0;
  for (;;) {
    await client.query('begin');
    try {
      const { rows } = await client.query<ApprovalRow>(
        `${SELECT_APPROVAL} where ap.status = 'pending' and ap.expires_at <= now() and ap.expiry_logged_at is null
          order by ap.expires_at limit 1 for update of ap skip locked`,
      );
      const row = rows[0];
      if (!row) {
        await client.query('commit');
        return logged;
      }
      await appendLedgerEntry(
        client,
        decisionEntry(row, {
          status: 'expired',
          principal: null,
          correlationId: null,
          traceId: null,
          detail: { approval_id: row.id, expires_at: row.expires_at.toISOString() },
          entryType: 'expired',
        }),
      );
      await client.query('update audit.approvals set expiry_logged_at = now() where id = $1', [row.id]);
      await client.query('commit');
      approvalsTotal.inc({ decision: 'expired' });
      logged++;
      if (logged >= limit) return logged;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  }
}
