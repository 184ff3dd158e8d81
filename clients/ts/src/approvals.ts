import { ApprovalError, ApprovalExpired, ApprovalRejected, ApprovalTimeout } from './errors.ts';
import type { Transport } from './http.ts';
import type { Approval, ApprovalList, Decision, ListApprovalsQuery, RecordActionResponse } from './types.ts';

/** The gateway holds a long-poll open at most this long. */
const MAX_WAIT_SECONDS = 25;

export interface Approved {
  /** Completes the gated action (`audit.updateAction`), or retries a held integration write; once. */
  receipt: string;
  approval: Approval;
}

export interface WaitOptions {
  /** Give up (ApprovalTimeout) after this long; default: until the approval expires. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What carries an approval id: an id, `audit.logAction`'s result, an ApprovalPending... */
export type ApprovalRef = string | { approval?: { id: string } | null } | { approvalId: string };

export function approvalIdOf(ref: ApprovalRef): string | undefined {
  if (typeof ref === 'string') return ref;
  if ('approvalId' in ref && ref.approvalId) return ref.approvalId;
  if ('approval' in ref && ref.approval?.id) return ref.approval.id;
  return undefined;
}

export class Approvals {
  readonly #http: Transport;
  constructor(http: Transport) {
    this.#http = http;
  }

  /** One approval; `wait` (≤ 25 s) long-polls until it is decided. */
  async get(id: string, options: { wait?: number; signal?: AbortSignal } = {}): Promise<Approval> {
    const wait = options.wait ?? 0;
    const { data } = await this.#http.call<Approval>('GET', `/v1/approvals/${encodeURIComponent(id)}`, {
      query: wait > 0 ? { wait } : undefined,
      signal: options.signal,
      timeoutMs: (this.#http.options.timeoutMs ?? 60_000) + wait * 1000,
    });
    return data;
  }

  /**
   * Waits until a human decides: the receipt when approved; throws ApprovalRejected (with the
   * reason), ApprovalExpired, or ApprovalTimeout. Long-polls `?wait=25`; a blip is retried.
   */
  async waitFor(ref: ApprovalRef | RecordActionResponse, options: WaitOptions = {}): Promise<Approved> {
    const id = approvalIdOf(ref as ApprovalRef);
    if (!id) throw new TypeError('waitFor: nothing to wait for (this action was not gated)');
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    for (;;) {
      const remaining = deadline === undefined ? undefined : deadline - Date.now();
      const wait =
        remaining === undefined
          ? MAX_WAIT_SECONDS
          : Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(remaining / 1000)));
      const approval = await this.get(id, { wait, signal: options.signal });
      if (approval.status === 'approved') {
        if (!approval.receipt) {
          throw new ApprovalError(
            'approved, but its receipt was already used (one approval, one action)',
            id,
            approval,
          );
        }
        return { receipt: approval.receipt, approval };
      }
      if (approval.status === 'rejected') throw new ApprovalRejected(id, approval);
      if (approval.status === 'expired') {
        throw new ApprovalExpired(`approval expired at ${approval.expires_at}`, id, approval);
      }
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new ApprovalTimeout(
          `approval ${id} still pending after ${options.timeoutMs} ms`,
          id,
          approval.action_id,
        );
      }
    }
  }

  /** The approver's queue (approver or admin keys). */
  async list(query: ListApprovalsQuery = {}): Promise<ApprovalList['data']> {
    const { data } = await this.#http.call<ApprovalList>('GET', '/v1/approvals', { query });
    return data.data;
  }

  /** Approver or admin keys. The same decision replayed gets the same answer, so it is retried. */
  async decide(id: string, decision: 'approve' | 'reject', reason?: string): Promise<Decision> {
    const { data } = await this.#http.call<Decision>(
      'POST',
      `/v1/approvals/${encodeURIComponent(id)}/decision`,
      {
        body: { decision, ...(reason ? { reason } : {}) },
        idempotent: true,
      },
    );
    return data;
  }

  approve(id: string, reason?: string): Promise<Decision> {
    return this.decide(id, 'approve', reason);
  }

  reject(id: string, reason: string): Promise<Decision> {
    return this.decide(id, 'reject', reason);
  }
}
