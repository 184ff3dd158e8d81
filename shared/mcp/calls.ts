import canonicalize from 'canonicalize';
import { getApproval } from '../approvals/approvals.ts';
import { type Notifier, waitForDecision } from '../approvals/index.ts';
import { type RequestContext, recordAction, updateActionStatus } from '../audit/actions.ts';
import { evaluateGate } from '../audit/audit-policy.ts';
import { inputHash } from '../audit/ledger-hash.ts';
import { sealSoon } from '../audit/ledger-seal.ts';
import { unstorableJson } from '../audit/storable.ts';
import type { Principal } from '../auth/api-keys.ts';
import { policy } from '../config/index.ts';
import { type Client, withPostgres } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { AppError } from '../errors/index.ts';
import type { Logger } from '../log/logger.ts';
import { mcpToolCallDuration, mcpToolCallsTotal } from '../metrics/registry.ts';
import type { TraceContext } from '../middleware/correlation/index.ts';
import { outgoingTraceHeaders } from '../middleware/correlation/index.ts';
import { redactSecrets } from '../redact/index.ts';
import { type Classification, classificationFromEntry, classify } from '../registry/index.ts';
import { findCallApproval, type LinkedApproval, redeemCallApproval } from './approval-link.ts';
import { gatewayToolName, type ResolvedServer, registryToolName } from './config.ts';
import { ErrorCode, RpcError } from './jsonrpc.ts';
import { type CallToolResult, resultSchemas, type Tool } from './protocol.ts';
import { UpstreamError, withUpstream } from './upstream.ts';
import { argumentProblem } from './validate.ts';

/** What a tools/call runs with: who asks, for which request, and how to work past the response. */
export interface CallContext {
  settings: Settings;
  principal: Principal;
  trace: TraceContext;
  log: Logger;
  /** Where a new pending approval is announced (the approvals module's webhook). */
  notifier: Notifier;
  waitSeconds: number;
  /** A retry this soon after its approved call ran is told so, rather than asking anew. */
  replayWindowSeconds: number;
  signal?: AbortSignal;
  background(work: Promise<unknown>): void;
}

/**
 * What an MCP tool is: its registry entry `mcp:<server>/<tool>` (config/actions.yaml), else its
 * entry in the server's `tools` of config/mcp.yaml (amount at `arguments.amount`), else
 * unregistered (`unknown_tool`: approval always).
 */
export function mcpClassification(server: ResolvedServer, tool: string): Classification {
  const name = registryToolName(server.name, tool);
  const registered = classify({ action_type: `mcp.${server.name}.${tool}`, tool_name: name });
  if (registered.registered) return registered;
  const entry = server.config.tools[tool];
  return classificationFromEntry(
    `mcp.yaml servers.${server.name}.tools.${tool}`,
    entry
      ? {
          category: entry.category,
          amount_path: 'arguments.amount',
          ...(entry.risk ? { risk: entry.risk } : {}),
        }
      : undefined,
  );
}

type Outcome =
  | 'ok'
  | 'tool_error'
  | 'upstream_error'
  | 'timeout'
  | 'pending'
  | 'rejected'
  | 'expired'
  | 'invalid'
  | 'already_executed';

/** Stored results larger than this are recorded by size: the ledger is not a blob store. */
const MAX_STORED_RESULT_CHARS = 65_536;

/**
 * One gateway tools/call: arguments checked against the tool's schema (nothing forwarded on a
 * mismatch), the policy decides, a gated call waits for its human decision, the call is forwarded
 * at most once per approval, and every call that got past validation is in the ledger.
 */
export async function callTool(
  ctx: CallContext,
  server: ResolvedServer,
  tool: Tool,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  const started = Date.now();
  const name = gatewayToolName(server.name, tool.name);
  let outcome: Outcome = 'upstream_error';
  try {
    // What the ledger cannot hold whole (1e400 read as Infinity, NUL, lone surrogates) is the
    // caller's invalid params, not the gateway's internal error when the call is hashed or stored.
    const unstorable = unstorableJson(args);
    const problem = unstorable ? { field: '(arguments)', message: unstorable } : argumentProblem(tool, args);
    if (problem) {
      outcome = 'invalid';
      throw new RpcError(
        ErrorCode.InvalidParams,
        `Invalid arguments for ${name}: ${problem.field}: ${problem.message}`,
        {
          field: problem.field,
        },
      );
    }
    if (!ctx.settings.ACTION_AUDIT_ENABLED) {
      throw new RpcError(
        ErrorCode.InternalError,
        'Tool calls are audited, and audit writes are disabled (ACTION_AUDIT_ENABLED=false).',
      );
    }
    const result = await gatedCall(ctx, server, tool, args, started);
    outcome = result.outcome;
    return result.result;
  } finally {
    const labels = { server: server.name, tool: tool.name };
    mcpToolCallsTotal.inc({ ...labels, outcome });
    mcpToolCallDuration.observe(labels, (Date.now() - started) / 1000);
  }
}

async function gatedCall(
  ctx: CallContext,
  server: ResolvedServer,
  tool: Tool,
  args: Record<string, unknown>,
  started: number,
): Promise<{ outcome: Outcome; result: CallToolResult }> {
  const { settings, principal } = ctx;
  const actionType = `mcp.${server.name}.${tool.name}`;
  const toolName = gatewayToolName(server.name, tool.name);
  // The registry decides what the tool is: its entry `mcp:<server>/<tool>` in config/actions.yaml,
  // else (until every MCP tool is registered there) the server's entry in config/mcp.yaml, else
  // unregistered, which config/policies.yaml's `unknown_tool` gates.
  const registryName = registryToolName(server.name, tool.name);
  const classification = mcpClassification(server, tool.name);
  const category = classification.effective;
  // What the approval binds to: the call itself (SHA-256 of its RFC 8785 form, before redaction,
  // so a redacted secret cannot be swapped after approval) and the redacted parts approvers see.
  const callHash = await sha256Hex(
    canonicalize({ server: server.name, tool: tool.name, arguments: args }) ?? '',
  );
  const inputs: Record<string, unknown> = {
    server: server.name,
    tool: tool.name,
    arguments: args,
    call_sha256: callHash,
  };
  const redactedInputs = redactSecrets<Record<string, unknown>>(inputs, { emails: true }).value;
  const hash = inputHash(redactedInputs);
  const requestCtx: RequestContext = {
    principal,
    correlationId: ctx.trace.correlationId,
    traceId: ctx.trace.traceId,
    approvalsEnabled: settings.APPROVAL_REQUIRED,
    receiptSecret: settings.APPROVAL_SECRET,
    // recordAction announces a new pending approval (the one webhook sender).
    notifier: ctx.notifier,
  };
  // recordAction gates with the same classification, so this pre-check and the recorded decision
  // agree.
  const gate = evaluateGate(
    {
      category,
      action_type: actionType,
      tool_name: registryName,
      agent_id: principal.id,
      inputs,
      registered: classification.registered,
      amount_path: classification.amount_path,
    },
    policy,
    settings.APPROVAL_REQUIRED,
  );

  const alreadyExecuted = (approved: LinkedApproval) => ({
    outcome: 'already_executed' as const,
    result: refusal(
      `This approved call to ${toolName} was already executed once (approval ${approved.approval_id}); ` +
        'its approval does not run it again, and its result went to the call that ran it (the ledger ' +
        'has it). The same call made later asks for a new approval.',
      { status: 'already_executed', approval_id: approved.approval_id, action_id: approved.action_id },
    ),
  });
  const redeem = (client: Client, approved: LinkedApproval) =>
    redeemCallApproval(client, {
      link: approved,
      inputHash: hash,
      principal,
      secret: settings.APPROVAL_SECRET,
    }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof AppError && err.code === 'receipt_used') return false;
        throw err;
      },
    );

  // One connection: find this call's approval (a retry), redeem it when approved, or record the
  // call as a new action (with a new approval when the policy gates it).
  const step = await withPostgres(settings, async (client) => {
    if (gate.required) {
      const previous = await findCallApproval(client, {
        principal: principal.id,
        actionType,
        inputHash: hash,
      });
      if (previous && previous.status !== 'expired') {
        if (previous.status !== 'approved') return { kind: 'linked' as const, link: previous };
        if (!previous.used) {
          const won = await redeem(client, previous);
          return { kind: won ? ('redeemed' as const) : ('spent' as const), link: previous };
        }
        // Executed moments ago: a concurrent or repeated retry of the same call, not a new one.
        if ((previous.usedSecondsAgo ?? 0) < ctx.replayWindowSeconds)
          return { kind: 'spent' as const, link: previous };
      }
      // No approval yet, one nobody decided in time, or one spent a while ago: a new call.
    }
    const recorded = await recordAction(
      client,
      {
        agent_id: principal.id,
        agent_name: principal.id,
        action_type: actionType,
        category,
        tool_name: registryName,
        inputs,
      },
      requestCtx,
      { classification },
    );
    if (!recorded.approval) return { kind: 'allowed' as const, actionId: recorded.action_id };
    const link: LinkedApproval = {
      action_id: recorded.action_id,
      approval_id: recorded.approval.id,
      status: 'pending',
      used: false,
      usedSecondsAgo: null,
      reason: null,
    };
    return { kind: 'gated' as const, link };
  });

  if (step.kind === 'allowed') {
    return forward(ctx, server, tool, args, {
      actionId: step.actionId,
      requestCtx,
      started,
      redeemed: false,
    });
  }
  if (step.kind === 'redeemed') {
    return forward(ctx, server, tool, args, {
      actionId: step.link.action_id,
      requestCtx,
      started,
      redeemed: true,
    });
  }
  if (step.kind === 'spent') return alreadyExecuted(step.link);
  let link: LinkedApproval = step.link;
  if (link.status === 'pending' && ctx.waitSeconds > 0) {
    const id = link.approval_id;
    const view = await waitForDecision(
      settings,
      id,
      ctx.waitSeconds,
      () => withPostgres(settings, (client) => getApproval(client, id, principal, settings.APPROVAL_SECRET)),
      ctx.signal,
    );
    link = { ...link, status: view.status, reason: view.reason };
  }

  switch (link.status) {
    case 'pending':
      return {
        outcome: 'pending',
        result: refusal(
          `Approval required: a human must approve this call to ${toolName} (approval ${link.approval_id}, ` +
            `category ${category}). It is still pending. Retry exactly the same call (same arguments) ` +
            'to wait for the decision again; once approved, that retry executes it, once. Different arguments ' +
            'need a new approval.',
          {
            status: 'pending_approval',
            approval_id: link.approval_id,
            action_id: link.action_id,
            retry: 'same_call',
          },
        ),
      };
    case 'rejected':
      return {
        outcome: 'rejected',
        result: refusal(
          `Rejected by a human (approval ${link.approval_id}): ${link.reason ?? 'no reason given'}. ` +
            'Do not retry this call unchanged.',
          {
            status: 'rejected',
            approval_id: link.approval_id,
            action_id: link.action_id,
            reason: link.reason,
          },
        ),
      };
    case 'expired':
      return {
        outcome: 'expired',
        result: refusal(
          `The approval for this call to ${toolName} expired undecided (approval ${link.approval_id}); ` +
            'nothing was executed. Calling it again asks for a new approval.',
          { status: 'expired', approval_id: link.approval_id, action_id: link.action_id },
        ),
      };
  }

  // Approved while we waited: the receipt is redeemed before anything is forwarded, so of
  // concurrent retries exactly one goes upstream.
  const approved = link;
  if (!(await withPostgres(settings, (client) => redeem(client, approved)))) return alreadyExecuted(approved);
  return forward(ctx, server, tool, args, {
    actionId: approved.action_id,
    requestCtx,
    started,
    redeemed: true,
  });
}

/** Calls the upstream and records the outcome (results redacted for the ledger only). */
async function forward(
  ctx: CallContext,
  server: ResolvedServer,
  tool: Tool,
  args: Record<string, unknown>,
  run: { actionId: string; requestCtx: RequestContext; started: number; redeemed: boolean },
): Promise<{ outcome: Outcome; result: CallToolResult }> {
  let result: CallToolResult | undefined;
  let failure: UpstreamError | undefined;
  try {
    result = await withUpstream(
      server,
      (client) =>
        client.request('tools/call', { name: tool.name, arguments: args }, resultSchemas().callTool),
      {
        signal: ctx.signal,
        headers: outgoingTraceHeaders(ctx.trace),
      },
    );
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    failure = err;
  }
  const duration = Date.now() - run.started;
  const outcome: Outcome = failure
    ? failure.kind === 'timeout'
      ? 'timeout'
      : 'upstream_error'
    : result?.isError
      ? 'tool_error'
      : 'ok';
  const settings = ctx.settings;
  // The call is in the ledger already (recorded before it was forwarded); its outcome entry is
  // written after the response, so the agent does not wait on a second ledger append.
  ctx.background(
    withPostgres(settings, (client) =>
      updateActionStatus(
        client,
        run.actionId,
        {
          status: outcome === 'ok' ? 'completed' : 'failed',
          outputs: { outcome, duration_ms: duration, ...(result ? { result: storableResult(result) } : {}) },
          ...(failure ? { error: failure.message } : {}),
        },
        run.requestCtx,
        { receiptRedeemed: run.redeemed },
      ),
    )
      // The request's own seal may have run before this append: seal again once it is in.
      .then(() => sealSoon(settings))
      .catch((err: Error) =>
        ctx.log.error('mcp tool call outcome not recorded', { error: err, action_id: run.actionId }),
      ),
  );
  if (failure) {
    ctx.log.warn('mcp upstream failed', {
      server: server.name,
      tool: tool.name,
      kind: failure.kind,
      error: failure,
    });
    // The call may or may not have run upstream: say so, as a tool error the agent can read.
    return {
      outcome,
      result: refusal(`${failure.message} The call may not have run; check before retrying.`, {
        status: outcome,
        action_id: run.actionId,
      }),
    };
  }
  return { outcome, result: result! };
}

/** An error result an agent reads: the words, and the same facts as structured content. */
function refusal(text: string, details: Record<string, unknown>): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text }],
    structuredContent: { mas: details },
  };
}

function storableResult(result: CallToolResult): unknown {
  const text = JSON.stringify(result);
  if (text.length > MAX_STORED_RESULT_CHARS || unstorableJson(result) !== null) return { chars: text.length };
  return result;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let out = '';
  for (const b of digest) out += b.toString(16).padStart(2, '0');
  return out;
}
