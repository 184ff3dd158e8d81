import type { Context } from 'hono';
import * as z from 'zod/mini';
import { announce, createApproval, type Notifier, notifierFor, redeemReceipt } from '../approvals/index.ts';
import type { Principal } from '../auth/api-keys.ts';
import { categorySchema } from '../config/category.ts';
import { policy, policyVersion } from '../config/index.ts';
import { decodeCursor, encodeCursor } from '../db/keyset-cursor.ts';
import type { Client } from '../db/postgres.ts';
import { getSettings } from '../env.ts';
import { AppError, forbidden, notFound } from '../errors/index.ts';
import type { AppEnv } from '../http/create-app.ts';
import { auditActionsTotal } from '../metrics/registry.ts';
import { redactSecrets, redactString } from '../redact/index.ts';
import { type Classification, checkInputs, classify } from '../registry/index.ts';
import { evaluateGate } from './audit-policy.ts';
import { timeOrderedUuid } from './entry-id.ts';
import { actingAgent } from './identity.ts';
import { appendLedgerEntries, appendLedgerEntry } from './ledger.ts';
import { type HashedEntry, inputHash } from './ledger-hash.ts';
import { isStorableText, UNSTORABLE_TEXT, unstorableJson } from './storable.ts';

// zod/mini, as every schema the proxy and audit functions parse with: classic zod's chainable API
// stays out of their bundles.
const text = (max: number) =>
  z.string().check(z.trim(), z.minLength(1), z.maxLength(max), z.refine(isStorableText, UNSTORABLE_TEXT));
/** JSON that Postgres can store and the redactor can read whole. */
const storableJson = (value: unknown, ctx: z.core.$RefinementCtx) => {
  const problem = unstorableJson(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
};
/**
 * A JSON object, passed through as parsed: `z.record` rebuilds objects by assignment, which
 * turns a top-level `"__proto__"` key into a prototype and drops it; this keeps it an own key,
 * hashed, stored and shown like any other.
 */
const jsonObject = () =>
  z.custom<Record<string, unknown>>(
    (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
    'must be a JSON object',
  );

/**
 * Bounds shared by the body fields and the proxy's `x-mas-agent-*` headers. Built on their first
 * parse (`z.lazy`), not at module load: the proxy and mcp bundles built them (~40 KB of young
 * generation with jsonObject) at every isolate's start for headers most requests do not send.
 */
export const agentIdField = /* @__PURE__ */ z.lazy(() => text(128));
export const agentNameField = /* @__PURE__ */ z.lazy(() => text(256));

// Schemas built with `.check(...)` are method calls a bundler must keep, so a bundle that never
// parses them (the proxy records actions through prepareAction but never parses these bodies)
// would still carry and build them at isolate start; a pure-annotated wrapper lets it drop them.
// The audit bundle, which parses them, still builds them at load (~250 KB of young generation):
// built lazily they moved its start-up's one scavenge into its first request (bench/README.md,
// "Isolate start, session 8"), which is what `bench:isolate-start` judges.
export const recordActionSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    /** The agent acting: the key's principal id (the default) or an agent id bound to the key. */
    agent_id: z.optional(agentIdField),
    /** What the agent calls itself; shown to approvers as self-declared only. */
    agent_name: agentNameField,
    action_type: text(128),
    /**
     * The category the caller asks for: kept when stricter than the registry's
     * (config/actions.yaml), else the registry's applies. Optional.
     */
    category: z.optional(text(64)),
    inputs: z._default(jsonObject(), {}).check(z.superRefine(storableJson)),
    tool_name: z.optional(text(256)),
    /** Why the agent wants this, shown to approvers (redacted like inputs). */
    justification: z.optional(text(2000)),
    correlation_id: z.optional(z.string().check(z.regex(/^[A-Za-z0-9._:-]{8,128}$/))),
  }))();

export const updateActionSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    status: z.enum(['completed', 'failed', 'cancelled']),
    /** The receipt from the approval; required to complete a gated action. */
    receipt: z.optional(z.string().check(z.maxLength(200))),
    outputs: z.optional(z.unknown()).check(z.superRefine(storableJson)),
    error: z.optional(z.string().check(z.maxLength(4000), z.refine(isStorableText, UNSTORABLE_TEXT))),
  }))();

export type RecordActionInput = z.input<typeof recordActionSchema>;

export interface RequestContext {
  principal: Principal;
  correlationId: string;
  traceId: string;
  approvalsEnabled: boolean;
  /** APPROVAL_SECRET: signs receipts. */
  receiptSecret?: string;
  /** Where a new pending approval is announced (webhook); absent: not announced. */
  notifier?: Notifier;
}

/** The request context of a Hono request: principal, trace, settings and its notifier. */
export function requestContext(c: Context<AppEnv>): RequestContext {
  const trace = c.get('trace');
  const settings = getSettings(c.env);
  return {
    principal: c.get('principal'),
    correlationId: trace.correlationId,
    traceId: trace.traceId,
    approvalsEnabled: settings.APPROVAL_REQUIRED,
    receiptSecret: settings.APPROVAL_SECRET,
    notifier: notifierFor(c),
  };
}

/** Identifiers: secrets replaced, emails kept (agent ids may be addresses). */
const redactId = (v: string) => redactString(v).value;
/** Prose: secrets and emails replaced. */
const redactProse = (v: string) => redactString(v, { emails: true }).value;

/** An action validated, classified, redacted and gated, ready to write (nothing written yet). */
export interface PreparedAction {
  entry: HashedEntry;
  inputHash: string;
  gate: ReturnType<typeof evaluateGate>;
  classification: Classification;
  /** Present when a human must approve: the approval row to create with the entry. */
  approval?: { id: string; expires_at: string };
  /** What the caller gets back (201). */
  result: {
    action_id: string;
    status: string;
    category: string;
    claimed_category: string | null;
    policy_rule: string;
    approval?: { id: string; expires_at: string };
  };
}

/**
 * Everything before the write: the agent is bound to the key (403 `agent_mismatch`); the registry
 * decides the category (a claimed one only when stricter) and checks the inputs against the
 * entry's schema (400 naming the field); every caller-supplied string is redacted (inputs and the
 * justification with emails too) before anything is hashed; the policy decides whether a human
 * must approve. Pure: it throws before anything is written.
 * `options.classification`: the proxy and the MCP gateway classify by route or tool themselves.
 */
export function prepareAction(
  input: z.output<typeof recordActionSchema>,
  ctx: RequestContext,
  options: { classification?: Classification; agentParam?: string } = {},
): PreparedAction {
  const agentId = actingAgent(ctx.principal, input.agent_id, options.agentParam);
  const classification =
    options.classification ??
    classify({ action_type: input.action_type, tool_name: input.tool_name, category: input.category });
  checkInputs(classification, input.inputs);
  const gate = evaluateGate(
    {
      category: classification.effective,
      action_type: input.action_type,
      tool_name: input.tool_name,
      agent_id: agentId,
      inputs: input.inputs,
      registered: classification.registered,
      amount_path: classification.amount_path,
    },
    policy,
    ctx.approvalsEnabled,
  );
  const redacted = redactSecrets<Record<string, unknown>>(input.inputs, { emails: true });
  const actionId = timeOrderedUuid();
  const now = new Date();
  const status = gate.required ? 'pending_approval' : 'recorded';
  const hash = inputHash(redacted.value);
  const approval = gate.required
    ? {
        id: crypto.randomUUID(),
        expires_at: new Date(now.getTime() + gate.expiresInSeconds * 1000).toISOString(),
      }
    : undefined;
  const justification = input.justification ? redactProse(input.justification) : null;
  const entry: HashedEntry = {
    id: timeOrderedUuid(),
    action_id: actionId,
    entry_type: 'action',
    created_at: now.toISOString(),
    agent_id: redactId(agentId),
    agent_name: redactProse(input.agent_name),
    action_type: redactId(input.action_type),
    category: redactId(classification.effective),
    tool_name: input.tool_name ? redactId(input.tool_name) : null,
    inputs: redacted.value,
    outputs: null,
    error: null,
    status,
    correlation_id: redactId(input.correlation_id ?? ctx.correlationId),
    trace_id: ctx.traceId,
    principal: ctx.principal.id,
    policy_version: policyVersion,
    approval_bypassed: gate.bypassed,
    redaction_rules: redacted.rules,
    detail: {
      policy_rule: gate.rule,
      claimed_category: classification.claimed === null ? null : redactId(classification.claimed),
      category_from: classification.decided_by,
      registered: classification.registered,
      registry: classification.entries.map((e) => e.key),
      risk: classification.risk,
      justification,
      known_category: categorySchema.safeParse(classification.effective).success,
      ...(approval ? { approval_id: approval.id, expires_at: approval.expires_at, quorum: gate.quorum } : {}),
    },
  };
  return {
    entry,
    inputHash: hash,
    gate,
    classification,
    ...(approval ? { approval } : {}),
    result: {
      action_id: actionId,
      status,
      category: entry.category,
      claimed_category: classification.claimed,
      policy_rule: gate.rule,
      ...(approval ? { approval } : {}),
    },
  };
}

/**
 * Records an action (prepareAction, then the write): the ledger entry, the action's state and
 * (when gated) its approval are written together, then the approval is announced.
 */
export async function recordAction(
  client: Client,
  input: z.output<typeof recordActionSchema>,
  ctx: RequestContext,
  options: { classification?: Classification; agentParam?: string } = {},
) {
  const prepared = prepareAction(input, ctx, options);
  const { entry, gate, approval, classification } = prepared;
  // Without an approval the append is one statement, atomic on its own: no begin/commit round trips.
  if (approval) await client.query('begin');
  try {
    await appendLedgerEntry(client, entry, {
      input_hash: prepared.inputHash,
      approval_id: approval?.id ?? null,
    });
    if (approval) {
      const createdAt = Date.parse(entry.created_at);
      await createApproval(client, {
        id: approval.id,
        actionId: entry.action_id,
        inputHash: prepared.inputHash,
        quorum: gate.quorum,
        approverRoles: gate.approverRoles,
        approverPrincipals: gate.approverPrincipals,
        requestedBy: ctx.principal.id,
        createdAt: entry.created_at,
        expiresAt: approval.expires_at,
        escalateAt:
          gate.escalateAfterSeconds === null
            ? null
            : new Date(createdAt + gate.escalateAfterSeconds * 1000).toISOString(),
        escalateTo: gate.escalateTo,
      });
      await client.query('commit');
    }
    auditActionsTotal.inc({ category: categoryLabel(classification.effective), status: entry.status });
    if (approval && ctx.notifier) {
      announce(ctx.notifier, {
        type: 'approval.pending',
        approval: {
          id: approval.id,
          action_id: entry.action_id,
          status: 'pending',
          principal: ctx.principal.id,
          agent_id: entry.agent_id,
          action_type: entry.action_type,
          category: entry.category,
          claimed_category: (entry.detail as { claimed_category: string | null }).claimed_category,
          risk: classification.risk,
          expires_at: approval.expires_at,
        },
      });
    }
    return prepared.result;
  } catch (err) {
    if (approval) await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** The most actions one `POST /v1/audit/actions:batch` may carry. */
export const MAX_BATCH_ACTIONS = 500;

export const recordBatchSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    /** Up to 500 actions, each as the body of POST /v1/audit/actions; recorded all or none. */
    actions: z.array(recordActionSchema).check(z.minLength(1), z.maxLength(MAX_BATCH_ACTIONS)),
  }))();

/** Names the batch item at fault: `actions.3.inputs.amount`, and the message says which. */
function atIndex(err: unknown, index: number): unknown {
  if (!(err instanceof AppError)) return err;
  const param = err.param ? `actions.${index}.${err.param}` : `actions.${index}`;
  return new AppError(
    err.status,
    err.code,
    `actions[${index}]: ${err.message} Nothing in the batch was recorded.`,
    {
      type: err.type,
      param,
      headers: err.headers,
      cause: err,
    },
  );
}

/**
 * Records many actions at once, all or none, in one statement (one round trip). Each is prepared
 * as recordAction prepares it; the first that fails names its index and nothing is written. An
 * action the policy gates is refused (400 `approval_required`, naming it): its approval must be
 * created, waited for and redeemed one by one, so it goes through POST /v1/audit/actions.
 */
export async function recordActions(
  client: Client,
  inputs: ReadonlyArray<z.output<typeof recordActionSchema>>,
  ctx: RequestContext,
) {
  const prepared = inputs.map((input, i) => {
    let p: PreparedAction;
    try {
      p = prepareAction(input, ctx);
    } catch (err) {
      throw atIndex(err, i);
    }
    if (p.approval) {
      const what = p.entry.tool_name ? `tool ${p.entry.tool_name}` : `action type ${p.entry.action_type}`;
      throw new AppError(
        400,
        'approval_required',
        `actions[${i}] (${what}, category ${p.entry.category}) needs a human approval (policy rule ${p.gate.rule}); record it alone with POST /v1/audit/actions, which creates the approval. Nothing in the batch was recorded.`,
        { param: `actions.${i}` },
      );
    }
    return p;
  });
  await appendLedgerEntries(
    client,
    prepared.map((p) => ({ entry: p.entry, state: { input_hash: p.inputHash, approval_id: null } })),
  );
  for (const p of prepared) {
    auditActionsTotal.inc({ category: categoryLabel(p.classification.effective), status: p.entry.status });
  }
  return { data: prepared.map((p) => p.result) };
}

interface ActionRow {
  action_id: string;
  agent_id: string;
  agent_name: string | null;
  action_type: string;
  category: string;
  tool_name: string | null;
  status: string;
  principal: string | null;
  correlation_id: string | null;
  input_hash: string;
  approval_id: string | null;
  created_at: Date;
  updated_at: Date;
  effective_status: string;
  receipt_used_at?: Date | null;
}

const EFFECTIVE_STATUS = `case when a.status = 'pending_approval' and ap.expires_at <= now() then 'expired'
                               when a.status = 'pending_approval' and ap.status = 'rejected' then 'rejected'
                               when a.status = 'pending_approval' and ap.status = 'approved' then 'approved'
                               else a.status end`;

/**
 * Moves an action to completed, failed or cancelled with a new ledger entry. A gated action that
 * is pending, rejected or expired cannot complete (409); a finished action cannot change (409).
 * Only the principal that recorded it (or an admin) may update it.
 */
export async function updateActionStatus(
  client: Client,
  actionId: string,
  update: z.infer<typeof updateActionSchema>,
  ctx: RequestContext,
  /** The integration proxy redeems the receipt itself, before it forwards the call. */
  options: { receiptRedeemed?: boolean } = {},
) {
  await client.query('begin');
  try {
    const { rows } = await client.query<ActionRow>(
      `select a.*, ap.receipt_used_at, ${EFFECTIVE_STATUS} as effective_status
         from audit.actions a left join audit.approvals ap on ap.id = a.approval_id
        where a.action_id = $1 for update of a`,
      [actionId],
    );
    const action = rows[0];
    if (!action) throw notFound(`No action ${actionId}.`, 'action_not_found');
    if (ctx.principal.role !== 'admin' && action.principal !== ctx.principal.id) {
      throw forbidden('Only the principal that recorded this action may update it.');
    }
    const current = action.effective_status;
    const blocked =
      ['completed', 'failed', 'cancelled'].includes(current) ||
      (update.status !== 'cancelled' && ['pending_approval', 'rejected', 'expired'].includes(current));
    if (blocked) {
      throw new AppError(
        409,
        'invalid_transition',
        `Action is ${current}; it cannot become ${update.status}.`,
        {
          param: 'status',
        },
      );
    }
    // A redeemed receipt means the approved action is being carried out: too late to cancel it
    // (the redemption and this lock the same action row, so one of them sees the other).
    if (update.status === 'cancelled' && action.receipt_used_at && !options.receiptRedeemed) {
      throw new AppError(
        409,
        'invalid_transition',
        'The approved action is being carried out; it cannot be cancelled.',
        {
          param: 'status',
        },
      );
    }
    if (action.approval_id && update.status === 'completed' && !options.receiptRedeemed) {
      await redeemReceipt(client, {
        actionId,
        receipt: update.receipt,
        principal: ctx.principal.role === 'admin' ? undefined : ctx.principal.id,
        secret: ctx.receiptSecret,
      });
    }
    const outputs = redactSecrets(update.outputs ?? null, { emails: true });
    const error = update.error ? redactSecrets<string>(update.error, { emails: true }) : undefined;
    const entry: HashedEntry = {
      id: timeOrderedUuid(),
      action_id: actionId,
      entry_type: 'status',
      created_at: new Date().toISOString(),
      agent_id: action.agent_id,
      agent_name: action.agent_name,
      action_type: action.action_type,
      category: action.category,
      tool_name: action.tool_name,
      inputs: null,
      outputs: outputs.value,
      error: error?.value ?? null,
      status: update.status,
      correlation_id: redactId(ctx.correlationId),
      trace_id: ctx.traceId,
      principal: ctx.principal.id,
      policy_version: policyVersion,
      approval_bypassed: false,
      redaction_rules: [...new Set([...outputs.rules, ...(error?.rules ?? [])])],
      detail: { previous_status: current },
    };
    await appendLedgerEntry(client, entry);
    await client.query('commit');
    auditActionsTotal.inc({ category: categoryLabel(action.category), status: update.status });
    return { action_id: actionId, status: update.status, previous_status: current };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

export async function getAction(client: Client, actionId: string, viewer: Principal) {
  const { rows } = await client.query<ActionRow & { expires_at: Date | null }>(
    `select a.*, ap.expires_at, ${EFFECTIVE_STATUS} as effective_status
       from audit.actions a left join audit.approvals ap on ap.id = a.approval_id
      where a.action_id = $1`,
    [actionId],
  );
  const action = rows[0];
  if (!action || (viewer.role === 'agent' && action.principal !== viewer.id)) {
    throw notFound(`No action ${actionId}.`, 'action_not_found');
  }
  const { rows: entries } = await client.query(
    // seq and row_hash are null until the sealer has reached the entry (normally milliseconds).
    `select s.seq::int as seq, l.id, l.entry_type, l.created_at, l.status, l.inputs, l.outputs, l.error,
            l.principal, l.correlation_id, l.redaction_rules, l.approval_bypassed, l.policy_version,
            l.detail, s.row_hash
       from audit.action_logs l left join audit.ledger_seq s on s.entry_id = l.id
      where l.action_id = $1 order by s.seq nulls last, l.created_at`,
    [actionId],
  );
  return { ...presentAction(action), entries };
}

export const listQuerySchema = /* @__PURE__ */ (() =>
  z.object({
    agent_id: z.optional(z.string().check(z.maxLength(128))),
    correlation_id: z.optional(z.string().check(z.maxLength(128))),
    status: z.optional(z.string().check(z.maxLength(32))),
    category: z.optional(z.string().check(z.maxLength(64))),
    since: z.optional(z.iso.datetime({ offset: true })),
    until: z.optional(z.iso.datetime({ offset: true })),
    limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(200)), 50),
    cursor: z.optional(z.string().check(z.maxLength(200))),
  }))();

/** Newest first, keyset-paginated on (created_at, action_id); the cursor is opaque. */
export async function listActions(client: Client, query: z.infer<typeof listQuerySchema>, viewer: Principal) {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (viewer.role === 'agent') add('a.principal = ?', viewer.id);
  if (query.agent_id) add('a.agent_id = ?', query.agent_id);
  if (query.correlation_id) add('a.correlation_id = ?', query.correlation_id);
  if (query.category) add('a.category = ?', query.category);
  if (query.status) add(`(${EFFECTIVE_STATUS}) = ?`, query.status);
  if (query.since) add('a.created_at >= ?', query.since);
  if (query.until) add('a.created_at < ?', query.until);
  if (query.cursor) {
    const [at, id] = decodeCursor(query.cursor);
    params.push(at, id);
    where.push(`(a.created_at, a.action_id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const { rows } = await client.query<ActionRow & { expires_at: Date | null }>(
    `select a.*, ap.expires_at, ${EFFECTIVE_STATUS} as effective_status
       from audit.actions a left join audit.approvals ap on ap.id = a.approval_id
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by a.created_at desc, a.action_id desc
      limit $${params.length}`,
    params,
  );
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    data: page.map(presentAction),
    next_cursor: rows.length > query.limit && last ? encodeCursor(last.created_at, last.action_id) : null,
  };
}

function presentAction(a: ActionRow & { expires_at?: Date | null }) {
  return {
    action_id: a.action_id,
    agent_id: a.agent_id,
    agent_name: a.agent_name,
    action_type: a.action_type,
    category: a.category,
    tool_name: a.tool_name,
    status: a.effective_status,
    principal: a.principal,
    correlation_id: a.correlation_id,
    input_hash: a.input_hash,
    approval: a.approval_id ? { id: a.approval_id, expires_at: a.expires_at ?? null } : null,
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

/** Metric label from a closed set: unknown categories are not caller-chosen label values. */
function categoryLabel(category: string): string {
  return categorySchema.safeParse(category).success ? category : 'unknown';
}
