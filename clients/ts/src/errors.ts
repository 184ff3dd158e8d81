import type { Approval } from './types.ts';

/** Every error this client throws. `status`, `code`, `type`, `param` are the gateway's. */
export class MasError extends Error {
  override name = 'MasError';
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly type: string | undefined;
  readonly param: string | undefined;
  readonly correlationId: string | undefined;
  /** Seconds, from `Retry-After` (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(
    message: string,
    init: {
      status?: number;
      code?: string | null;
      type?: string | null;
      param?: string | null;
      correlationId?: string | null;
      retryAfter?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code ?? undefined;
    this.type = init.type ?? undefined;
    this.param = init.param ?? undefined;
    this.correlationId = init.correlationId ?? undefined;
    this.retryAfter = init.retryAfter;
  }
}

/** The gateway could not be reached, or the call timed out, before an answer. */
export class MasConnectionError extends MasError {
  override name = 'MasConnectionError';
}

export class ApprovalError extends MasError {
  override name = 'ApprovalError';
  readonly approvalId: string;
  readonly actionId: string | undefined;
  readonly approval: Approval | undefined;
  constructor(message: string, approvalId: string, approval?: Approval, actionId?: string) {
    super(message);
    this.approvalId = approvalId;
    this.approval = approval;
    this.actionId = actionId ?? approval?.action_id;
  }
}

/** A human rejected the action; `reason` says why, so the agent does not retry the same call. */
export class ApprovalRejected extends ApprovalError {
  override name = 'ApprovalRejected';
  readonly reason: string | null;
  constructor(approvalId: string, approval: Approval) {
    const reason = typeof approval.reason === 'string' ? approval.reason : null;
    super(`approval rejected: ${reason ?? 'no reason given'}`, approvalId, approval);
    this.reason = reason;
  }
}

/** Nobody decided before the approval expired (expired is not rejected: it may be asked again). */
export class ApprovalExpired extends ApprovalError {
  override name = 'ApprovalExpired';
}

/**
 * The action waits for a human. From an integration write, `resume()` (on the integrations
 * client) waits for the decision and sends the same request again with the receipt.
 */
export class ApprovalPending extends ApprovalError {
  override name = 'ApprovalPending';
  /** What to send again once approved (integration writes). */
  readonly request: PendingRequest | undefined;
  constructor(message: string, approvalId: string, actionId: string | undefined, request?: PendingRequest) {
    super(message, approvalId, undefined, actionId);
    this.request = request;
  }
}

/** `waitFor({ timeoutMs })` gave up while the approval was still pending. */
export class ApprovalTimeout extends ApprovalPending {
  override name = 'ApprovalTimeout';
}

/** `gated()` ran `fn`, but the outcome could not be recorded; `result` is what `fn` returned. */
export class OutcomeNotRecorded extends MasError {
  override name = 'OutcomeNotRecorded';
  readonly result: unknown;
  constructor(cause: MasError, result: unknown) {
    super(`the action ran, but its outcome was not recorded: ${cause.message}`, {
      status: cause.status,
      code: cause.code,
      correlationId: cause.correlationId,
      cause,
    });
    this.result = result;
  }
}

export interface PendingRequest {
  integration: string;
  method: string;
  path: string;
  json?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers: Record<string, string>;
}

/** The typed error for a gateway error response (any body shape is tolerated). */
export function errorFromResponse(status: number, headers: Headers, text: string): MasError {
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  const err = (parsed as { error?: Record<string, unknown> } | undefined)?.error;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return new MasError(str(err?.message) ?? (text.trim().slice(0, 200) || `HTTP ${status}`), {
    status,
    code: str(err?.code),
    type: str(err?.type),
    param: str(err?.param),
    correlationId: headers.get('x-correlation-id'),
    retryAfter: retryAfterSeconds(headers.get('retry-after')),
  });
}

export function retryAfterSeconds(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
