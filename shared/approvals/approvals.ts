import * as z from 'zod/mini';
import { timeOrderedUuid } from '../audit/entry-id.ts';
import { appendLedgerEntry } from '../audit/ledger.ts';
import type { HashedEntry } from '../audit/ledger-hash.ts';
import { isStorableText, UNSTORABLE_TEXT } from '../audit/storable.ts';
import type { Principal } from '../auth/api-keys.ts';
import { policyVersion } from '../config/index.ts';
import { decodeCursor, encodeCursor } from '../db/keyset-cursor.ts';
import { type Client, withPostgres } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { AppError, forbidden, notFound } from '../errors/index.ts';
import { approvalsTotal } from '../metrics/registry.ts';
import { redactSecrets } from '../redact/index.ts';
import { backoffDelay, sleep } from '../resilience/backoff.ts';
import type { ApprovalEvent } from './notify.ts';
import { makeReceipt } from './receipts.ts';

// The schemas are pure-wrapped: `.check(...)` is a method call a bundler must keep, so the audit
// and proxy bundles (which create approvals but never parse these) would carry and build them.
/**
 * The one decision body, for the API and the page alike. zod/mini (as the approval function's
 * other schemas): classic zod's chainable API stays out of that bundle.
 */
export const decisionSchema = /* @__PURE__ */ (() =>
  z
    .strictObject({
      decision: z.enum(['approve', 'reject']),
      reason: z.optional(
        z.string().check(z.trim(), z.maxLength(2000), z.refine(isStorableText, UNSTORABLE_TEXT)),
      ),
    })
    .check(
      z.refine((d) => d.decision !== 'reject' || Boolean(d.reason && d.reason.length > 0), {
        message: 'a rejection needs a reason (the agent reads it so it does not retry the same call)',
        path: ['reason'],
      }),
    ))();

export type Decision = z.infer<typeof decisionSchema>;

export const listApprovalsQuerySchema = /* @__PURE__ */ (() =>
  z.object({
    status: z.optional(z.enum(['pending', 'approved', 'rejected', 'expired'])),
    category: z.optional(z.string().check(z.maxLength(64))),
    agent_id: z.optional(z.string().check(z.maxLength(128))),
    limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(500)), 100),
    cursor: z.optional(z.string().check(z.maxLength(200))),
  }))();
export type ListApprovalsQuery = z.input<typeof listApprovalsQuerySchema>;

/** `?wait=<s>`: long-poll until decided, at most 25 s. */
export const waitQuerySchema = /* @__PURE__ */ (() =>
  z.object({
    wait: z._default(z.coerce.number().check(z.gte(0), z.lte(25)), 0),
  }))();

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/** What the gate decided, as recordAction hands it over. */
export interface NewApproval {
  id: string;
  actionId: string;
  inputHash: string;
  quorum: number;
  approverRoles: string[];
  approverPrincipals: string[];
  requestedBy: string;
  createdAt: string;
  expiresAt: string;
  escalateAt: string | null;
  escalateTo: { roles: string[]; principals: string[] };
}

/** Inserts the approval row; runs inside the caller's transaction with the action's ledger entry. */
export async function createApproval(client: Client, a: NewApproval): Promise<void> {
  await client.query(
    `insert into audit.approvals (id, action_id, input_hash, quorum, approver_roles, approver_principals,
       requested_by, created_at, expires_at, escalate_at, escalate_roles, escalate_principals)
     values ($1, $2, $3, $4, $5::text[], $6::text[], $7, $8, $9, $10, $11::text[], $12::text[])`,
    [
      a.id,
      a.actionId,
      a.inputHash,
      a.quorum,
      a.approverRoles,
      a.approverPrincipals,
      a.requestedBy,
      a.createdAt,
      a.expiresAt,
      a.escalateAt,
      a.escalateTo.roles,
      a.escalateTo.principals,
    ],
  );
}

interface ApprovalRow {
  id: string;
  action_id: string;
  input_hash: string;
  status: 'pending' | 'approved' | 'rejected';
  quorum: number;
  approver_roles: string[];
  approver_principals: string[];
  escalate_roles: string[];
  escalate_principals: string[];
  escalate_at: Date | null;
  escalated_at: Date | null;
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
  detail: Record<string, unknown> | null;
  inputs: unknown;
  approvals: number;
  expired: boolean;
}

/**
 * An approval with its action and the action's first ledger entry (claimed category, risk note,
 * rule, justification and redacted inputs live there, covered by the chain).
 */
const selectApproval = (
  extra = '',
) => `select ap.*,${extra} a.agent_id, a.agent_name, a.action_type, a.category, a.tool_name,
       a.principal as action_principal, l.detail, l.inputs,
       (select count(*)::int from audit.approval_decisions d where d.approval_id = ap.id and d.decision = 'approve') as approvals,
       (ap.status = 'pending' and ap.expires_at <= now()) as expired
  from audit.approvals ap
  join audit.actions a on a.action_id = ap.action_id
  join audit.action_logs l on l.action_id = ap.action_id and l.entry_type = 'action'`;
// Pure: a bundle that never reads approvals drops it.
const SELECT_APPROVAL = /* @__PURE__ */ selectApproval();

function statusOf(row: ApprovalRow): ApprovalStatus {
  return row.expired ? 'expired' : row.status;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The approver-visible shape; the same for the first decision and its replays. The requesting
 * principal and the agent it acted as come first: `agent_name` is only what the agent says.
 */
function present(row: ApprovalRow) {
  const detail = row.detail ?? {};
  const status = statusOf(row);
  return {
    id: row.id,
    action_id: row.action_id,
    status,
    principal: row.action_principal,
    agent_id: row.agent_id,
    agent_name: row.agent_name,
    action_type: row.action_type,
    tool_name: row.tool_name,
    category: row.category,
    claimed_category: str(detail.claimed_category),
    risk: str(detail.risk),
    policy_rule: str(detail.policy_rule),
    justification: str(detail.justification),
    requested_by: row.requested_by,
    quorum: row.quorum,
    approvals: row.approvals,
    created_at: row.created_at,
    expires_at: row.expires_at,
    expires_in_seconds:
      status === 'pending' ? Math.max(0, Math.round((row.expires_at.getTime() - Date.now()) / 1000)) : 0,
    escalated: row.escalated_at !== null,
    decided_at: row.decided_at,
    decided_by: row.decided_by,
    reason: row.reason,
  };
}

export type ApprovalView = ReturnType<typeof present>;

/** The gate's approvers, and once escalated the `escalate_to` ones too. */
export function mayDecide(
  row: Pick<
    ApprovalRow,
    'approver_roles' | 'approver_principals' | 'escalated_at' | 'escalate_roles' | 'escalate_principals'
  >,
  who: Principal,
): boolean {
  if (row.approver_roles.includes(who.role) || row.approver_principals.includes(who.id)) return true;
  return (
    row.escalated_at !== null &&
    (row.escalate_roles.includes(who.role) || row.escalate_principals.includes(who.id))
  );
}

/** The same test in SQL ($1 role, $2 id), for the queue: filtered before the LIMIT. */
const MAY_DECIDE_SQL = `($1 = any(ap.approver_roles) or $2 = any(ap.approver_principals)
   or (ap.escalated_at is not null and ($1 = any(ap.escalate_roles) or $2 = any(ap.escalate_principals))))
  and a.principal is distinct from $2 and ap.requested_by is distinct from $2`;

export interface DecideContext {
  principal: Principal;
  correlationId: string;
  traceId: string;
}

const BUSY = Symbol('busy');

/**
 * Decides: a compare-and-set on the approval row, taken with `FOR UPDATE SKIP LOCKED` so a
 * decision in flight never makes others queue on its lock holding a connection each (200
 * concurrent decisions on one approval used to exhaust Postgres). A caller that finds the row
 * busy lets go of its connection, waits a moment and tries again; by then the approval is
 * usually decided and it gets the replay: the same decision again is 200 with the same body, a
 * different one 409. The requester and non-approvers get 403, an expired approval 410. Quorum
 * counts distinct approvers; one rejection rejects; an approver repeating a decision while the
 * quorum is still open is a replay too (no second entry). Each decision is one ledger entry.
 */
export async function decideApproval(
  settings: Settings,
  approvalId: string,
  decision: Decision,
  ctx: DecideContext,
): Promise<ApprovalView> {
  const deadline = Date.now() + 20_000;
  for (let attempt = 0; ; attempt++) {
    const result = await withPostgres(settings, (client) => tryDecide(client, approvalId, decision, ctx));
    if (result !== BUSY) return result;
    if (Date.now() > deadline) {
      throw new AppError(
        409,
        'decision_in_progress',
        'Another decision on this approval is being written; retry.',
      );
    }
    await sleep(5 + backoffDelay({ base_ms: 10, max_ms: 200 }, attempt));
  }
}

async function tryDecide(
  client: Client,
  approvalId: string,
  decision: Decision,
  ctx: DecideContext,
): Promise<ApprovalView | typeof BUSY> {
  await client.query('begin');
  try {
    const { rows } = await client.query<ApprovalRow & { mine: string | null }>(
      `${selectApproval(
        ' (select d.decision from audit.approval_decisions d where d.approval_id = ap.id and d.principal = $2) as mine,',
      )} where ap.id = $1 for update of ap skip locked`,
      [approvalId, ctx.principal.id],
    );
    const row = rows[0];
    if (!row) {
      await client.query('rollback');
      const { rows: exists } = await client.query('select 1 from audit.approvals where id = $1', [
        approvalId,
      ]);
      if (!exists.length) throw notFound(`No approval ${approvalId}.`, 'approval_not_found');
      return BUSY;
    }
    if (row.action_principal === ctx.principal.id || row.requested_by === ctx.principal.id) {
      throw forbidden('You cannot decide on your own action.');
    }
    if (!mayDecide(row, ctx.principal)) throw forbidden('You are not an approver for this action.');
    const wanted = decision.decision === 'approve' ? 'approved' : 'rejected';
    const replay = (conflict: boolean) => {
      if (conflict) {
        throw new AppError(
          409,
          'already_decided',
          row.status === 'pending'
            ? `You already decided ${row.mine} on this approval.`
            : `This approval is already ${row.status}.`,
          { param: 'decision' },
        );
      }
      return present(row);
    };
    if (row.status !== 'pending') {
      await client.query('rollback');
      return replay(row.status !== wanted);
    }
    if (row.expired) {
      throw new AppError(
        410,
        'approval_expired',
        `This approval expired at ${row.expires_at.toISOString()}.`,
      );
    }
    if (row.mine) {
      await client.query('rollback');
      return replay(row.mine !== decision.decision);
    }
    const reason = decision.reason ? redactSecrets<string>(decision.reason, { emails: true }).value : null;
    const approvals = row.approvals + (decision.decision === 'approve' ? 1 : 0);
    const terminal = decision.decision === 'reject' || approvals >= row.quorum;
    const { rows: updated } = await client.query<{ decided_at: Date | null }>(
      `with d as (
         insert into audit.approval_decisions (approval_id, principal, decision, reason) values ($1, $2, $3, $4)
       )
       update audit.approvals set status = $5, decided_at = now(), decided_by = $2, reason = $4
        where id = $1 and $6::boolean
       returning decided_at`,
      [approvalId, ctx.principal.id, decision.decision, reason, wanted, terminal],
    );
    row.approvals = approvals;
    if (terminal) {
      row.status = wanted;
      row.decided_at = updated[0]?.decided_at ?? new Date();
      row.decided_by = ctx.principal.id;
      row.reason = reason;
    }
    await appendLedgerEntry(
      client,
      ledgerEntry(row, {
        entryType: 'decision',
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
      }),
    );
    await client.query('commit');
    if (terminal) approvalsTotal.inc({ decision: decision.decision });
    return present(row);
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

function ledgerEntry(
  row: ApprovalRow,
  e: {
    entryType: 'decision' | 'expired' | 'approval';
    status: string;
    principal: string | null;
    correlationId: string | null;
    traceId: string | null;
    detail: Record<string, unknown>;
  },
): HashedEntry {
  return {
    id: timeOrderedUuid(),
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
 * approvers and admins see it with its redacted inputs; anyone else gets 404.
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
  const isApprover = row && (mayDecide(row, viewer) || viewer.role === 'admin');
  if (!row || (!isRequester && !isApprover))
    throw notFound(`No approval ${approvalId}.`, 'approval_not_found');
  const view = {
    ...present(row),
    ...(isApprover ? { inputs: row.inputs } : {}),
    receipt: undefined as string | undefined,
  };
  if (isRequester && row.status === 'approved' && !row.receipt_used_at) {
    if (!receiptSecret) {
      throw new AppError(
        503,
        'receipts_unconfigured',
        'APPROVAL_SECRET is not set; receipts cannot be issued.',
      );
    }
    view.receipt = await makeReceipt(receiptSecret, row.id, row.action_id, row.input_hash);
  }
  return view;
}

/** The action's ledger history, for the approver's detail view (same visibility as getApproval). */
export async function approvalHistory(client: Client, approvalId: string, viewer: Principal) {
  const approval = await getApproval(client, approvalId, viewer);
  const { rows } = await client.query<{
    seq: number;
    entry_type: string;
    created_at: Date;
    status: string;
    principal: string | null;
    detail: Record<string, unknown> | null;
  }>(
    `select s.seq::int as seq, l.entry_type, l.created_at, l.status, l.principal, l.detail
       from audit.action_logs l left join audit.ledger_seq s on s.entry_id = l.id
      where l.action_id = $1 order by s.seq nulls last, l.created_at`,
    [approval.action_id],
  );
  return { approval, entries: rows };
}

/**
 * The approver's queue, newest first, keyset-paginated on (created_at, id): who may decide is
 * part of the WHERE, before the LIMIT, so a page is never short while more rows exist.
 * `pending` excludes expired ones. Admins see every approval.
 */
export async function listApprovals(
  client: Client,
  query: z.infer<typeof listApprovalsQuerySchema>,
  viewer: Principal,
) {
  // Admins see everything: MAY_DECIDE_SQL's $1/$2 are then absent (an unused parameter has no
  // type Postgres can infer, 42P18).
  const admin = viewer.role === 'admin';
  const params: unknown[] = admin ? [] : [viewer.role, viewer.id];
  const where: string[] = [admin ? 'true' : `(${MAY_DECIDE_SQL})`];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  if (query.status === 'pending') where.push("ap.status = 'pending' and ap.expires_at > now()");
  else if (query.status === 'expired') where.push("ap.status = 'pending' and ap.expires_at <= now()");
  else if (query.status) add('ap.status = ?', query.status);
  if (query.category) add('a.category = ?', query.category);
  if (query.agent_id) add('a.agent_id = ?', query.agent_id);
  if (query.cursor) {
    const [at, id] = decodeCursor(query.cursor);
    params.push(at, id);
    where.push(`(ap.created_at, ap.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const { rows } = await client.query<ApprovalRow>(
    `${SELECT_APPROVAL} where ${where.join(' and ')}
      order by ap.created_at desc, ap.id desc limit $${params.length}`,
    params,
  );
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    data: page.map((r) => ({ ...present(r), inputs: r.inputs })),
    next_cursor: rows.length > query.limit && last ? encodeCursor(last.created_at, last.id) : null,
  };
}

/** The event for a view, as the webhook receives it. */
export function eventApproval(view: ApprovalView): ApprovalEvent['approval'] {
  return {
    id: view.id,
    action_id: view.action_id,
    status: view.status,
    principal: view.principal,
    agent_id: view.agent_id,
    action_type: view.action_type,
    category: view.category,
    claimed_category: view.claimed_category,
    risk: view.risk,
    expires_at: view.expires_at,
    decided_by: view.decided_by,
    reason: view.reason,
  };
}

/**
 * Writes the `expired` ledger entry for approvals that passed their expiry undecided (the
 * scheduled handler), one row per short transaction; returns the events to announce. Reads
 * already say `expired` from the clock; this makes it part of history.
 */
export async function expireApprovals(client: Client, limit = 100): Promise<ApprovalEvent[]> {
  return sweep(
    client,
    "ap.status = 'pending' and ap.expires_at <= now() and ap.expiry_logged_at is null order by ap.expires_at",
    limit,
    async (row) => {
      await appendLedgerEntry(
        client,
        ledgerEntry(row, {
          entryType: 'expired',
          status: 'expired',
          principal: null,
          correlationId: null,
          traceId: null,
          detail: { approval_id: row.id, expires_at: row.expires_at.toISOString() },
        }),
      );
      await client.query('update audit.approvals set expiry_logged_at = now() where id = $1', [row.id]);
      approvalsTotal.inc({ decision: 'expired' });
      return { type: 'approval.expired', approval: eventApproval(present(row)) };
    },
  );
}

/**
 * Escalates approvals still pending past `escalate_at`: once each (`escalated_at` is set in the
 * same transaction as the ledger entry), after which the `escalate_to` approvers may decide too.
 * Returns the `approval.pending` events (with `escalated: true`) to announce.
 */
export async function escalateApprovals(client: Client, limit = 100): Promise<ApprovalEvent[]> {
  return sweep(
    client,
    `ap.status = 'pending' and ap.escalated_at is null and ap.escalate_at <= now() and ap.expires_at > now()
     order by ap.escalate_at`,
    limit,
    async (row) => {
      const escalateTo = { roles: row.escalate_roles, principals: row.escalate_principals };
      await appendLedgerEntry(
        client,
        ledgerEntry(row, {
          entryType: 'approval',
          status: 'pending_approval',
          principal: null,
          correlationId: null,
          traceId: null,
          detail: { approval_id: row.id, escalated: true, escalate_to: escalateTo },
        }),
      );
      const { rows } = await client.query<{ escalated_at: Date }>(
        'update audit.approvals set escalated_at = now() where id = $1 returning escalated_at',
        [row.id],
      );
      row.escalated_at = rows[0]!.escalated_at;
      return {
        type: 'approval.pending',
        escalated: true,
        approval: { ...eventApproval(present(row)), escalate_to: escalateTo },
      };
    },
  );
}

/** One due row at a time, locked with SKIP LOCKED so concurrent cron runs share the work. */
async function sweep(
  client: Client,
  condition: string,
  limit: number,
  handle: (row: ApprovalRow) => Promise<ApprovalEvent>,
): Promise<ApprovalEvent[]> {
  const events: ApprovalEvent[] = [];
  while (events.length < limit) {
    await client.query('begin');
    try {
      const { rows } = await client.query<ApprovalRow>(
        `${SELECT_APPROVAL} where ${condition} limit 1 for update of ap skip locked`,
      );
      const row = rows[0];
      if (!row) {
        await client.query('commit');
        break;
      }
      const event = await handle(row);
      await client.query('commit');
      events.push(event);
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  }
  return events;
}
