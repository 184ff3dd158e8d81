import type { Context } from 'hono';
import type { Settings } from '../env.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import type { Logger } from '../log/logger.ts';
import { outgoingTraceHeaders, type TraceContext } from '../middleware/correlation/index.ts';
import { getRedis } from '../redis/client.ts';
import { hmacHex } from './receipts.ts';

export interface ApprovalEvent {
  type: 'approval.pending' | 'approval.decided';
  approval: {
    id: string;
    action_id: string;
    status: string;
    agent_id: string;
    action_type: string;
    category: string;
    expires_at?: string | Date;
    decided_by?: string | null;
    reason?: string | null;
  };
}

/** Slack-compatible one-liner, so the webhook can point straight at an incoming-webhook URL. */
export function slackText(event: ApprovalEvent): string {
  const a = event.approval;
  return event.type === 'approval.pending'
    ? `Approval needed: ${a.agent_id} wants ${a.action_type} (${a.category}). Approval ${a.id}, expires ${new Date(a.expires_at ?? Date.now()).toISOString()}.`
    : `Approval ${a.id} ${a.status} by ${a.decided_by ?? 'unknown'}${a.reason ? `: ${a.reason}` : ''} (${a.agent_id} ${a.action_type}).`;
}

/**
 * POSTs the event to APPROVAL_WEBHOOK_URL, signed: `x-mas-signature: sha256=<hex HMAC of
 * "<timestamp>.<body>">` with `x-mas-timestamp`, so receivers can check origin and freshness.
 * Runs in the background; a failing receiver is logged, never propagated.
 */
export async function sendApprovalWebhook(
  settings: Settings,
  event: ApprovalEvent,
  log: Logger,
  trace?: TraceContext,
): Promise<void> {
  const url = settings.APPROVAL_WEBHOOK_URL;
  if (!url) return;
  const body = JSON.stringify({ ...event, text: slackText(event) });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-mas-timestamp': timestamp,
    ...(trace ? outgoingTraceHeaders(trace) : {}),
  };
  if (settings.APPROVAL_WEBHOOK_SECRET) {
    headers['x-mas-signature'] =
      `sha256=${await hmacHex(settings.APPROVAL_WEBHOOK_SECRET, `${timestamp}.${body}`)}`;
  }
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
  } catch (err) {
    log.warn('approval webhook failed', {
      error: err instanceof Error ? err : String(err),
      event: event.type,
    });
  }
}

const wakeKey = (approvalId: string) => `mas:approval:${approvalId}`;

/** Tells long-polling agents on any isolate that a decision landed (best effort). */
export async function signalDecision(settings: Settings, approvalId: string, status: string): Promise<void> {
  const redis = getRedis(settings);
  if (!redis) return;
  await redis.set(wakeKey(approvalId), status, { ex: 3600 }).catch(() => undefined);
}

/**
 * Waits up to `seconds` for a decision: watching the Redis key a decision sets (cheap, 250 ms)
 * when Redis is configured, else re-reading the database each second. `read` is the source of
 * truth and is called at the start, on a signal and at the end.
 */
export async function waitForDecision<T extends { status: string }>(
  settings: Settings,
  approvalId: string,
  seconds: number,
  read: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  let current = await read();
  const deadline = Date.now() + seconds * 1000;
  const redis = getRedis(settings);
  while (current.status === 'pending' && Date.now() < deadline && !signal?.aborted) {
    await new Promise((r) => setTimeout(r, redis ? 250 : 1000));
    if (redis) {
      const woke = await redis.get(wakeKey(approvalId)).catch(() => 'error');
      if (woke === null) {
        // Still undecided, but expiry is computed from the clock: re-read near the deadline.
        if (Date.now() + 250 < deadline) continue;
      }
    }
    current = await read();
  }
  return current;
}

/** After a terminal decision: wake long-polling agents and tell the webhook, both in the background. */
export function announceDecision(
  c: Context<AppEnv>,
  settings: Settings,
  approval: ApprovalEvent['approval'],
): void {
  if (approval.status === 'pending') return;
  runInBackground(c, signalDecision(settings, approval.id, approval.status));
  runInBackground(
    c,
    sendApprovalWebhook(settings, { type: 'approval.decided', approval }, c.get('log'), c.get('trace')),
  );
}
