import type { Context } from 'hono';
import { getSettings, type Settings } from '../env.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import type { Logger } from '../log/logger.ts';
import { outgoingTraceHeaders, type TraceContext } from '../middleware/correlation/index.ts';
import { getRedis } from '../redis/client.ts';
import { sleep } from '../resilience/backoff.ts';
import { withDeadline } from '../resilience/deadline.ts';
import { hmacHex } from './receipts.ts';
import { webhookUrlProblem } from './webhook-url.ts';

/** What the webhook receives; `approval` is the approver-visible view (already redacted). */
export interface ApprovalEvent {
  type: 'approval.pending' | 'approval.decided' | 'approval.expired';
  /** A pending approval announced again after `escalate_after_seconds`. */
  escalated?: boolean;
  approval: {
    id: string;
    action_id: string;
    status: string;
    principal?: string | null;
    agent_id: string;
    action_type: string;
    category: string;
    claimed_category?: string | null;
    risk?: string | null;
    expires_at?: string | Date;
    decided_by?: string | null;
    reason?: string | null;
    escalate_to?: { roles: string[]; principals: string[] };
  };
}

/** Where webhooks go from: a request (Hono context) or the scheduled handler. */
export interface Notifier {
  settings: Settings;
  log: Logger;
  trace?: TraceContext;
  /** Keeps the isolate alive for background work (waitUntil). */
  background(work: Promise<unknown>): void;
}

export function notifierFor(c: Context<AppEnv>): Notifier {
  return {
    settings: getSettings(c.env),
    log: c.get('log'),
    trace: c.get('trace'),
    background: (work) => runInBackground(c, work),
  };
}

/** Slack's control characters: `&`, `<`, `>` (so `<!channel>` and `<url|text>` stay text). */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack-compatible one-liner, so the webhook can point straight at an incoming-webhook URL. */
export function slackText(event: ApprovalEvent): string {
  const a = event.approval;
  const e = (v: string | null | undefined) => slackEscape(String(v ?? ''));
  const who = `${e(a.agent_id)}${a.principal && a.principal !== a.agent_id ? ` (key ${e(a.principal)})` : ''}`;
  switch (event.type) {
    case 'approval.pending':
      return `${event.escalated ? 'Still waiting (escalated): ' : 'Approval needed: '}${who} wants ${e(a.action_type)} (${e(a.category)}). Approval ${e(a.id)}, expires ${new Date(a.expires_at ?? Date.now()).toISOString()}.${a.risk ? ` Risk: ${e(a.risk)}` : ''}`;
    case 'approval.decided':
      return `Approval ${e(a.id)} ${e(a.status)} by ${e(a.decided_by ?? 'unknown')}${a.reason ? `: ${e(a.reason)}` : ''} (${who} ${e(a.action_type)}).`;
    case 'approval.expired':
      return `Approval ${e(a.id)} expired undecided (${who} ${e(a.action_type)}): the action stays denied.`;
  }
}

/**
 * The one place webhooks are sent from: pending (from the audit route, the integration proxy and
 * the MCP gateway alike), decided, expired and escalated. In the background; never throws.
 */
export function announce(notifier: Notifier, event: ApprovalEvent): void {
  notifier.background(sendApprovalWebhook(notifier.settings, event, notifier.log, notifier.trace));
}

/**
 * POSTs the event to APPROVAL_WEBHOOK_URL, signed: `x-mas-signature: sha256=<hex HMAC of
 * "<timestamp>.<body>">` with `x-mas-timestamp`, so receivers can check origin and freshness.
 * Redirects are never followed (a 3xx is a failure: the signed body goes nowhere else), and a
 * URL naming a loopback, link-local or private address is refused unless
 * APPROVAL_WEBHOOK_ALLOW_PRIVATE=true (local development and tests). A failing receiver is
 * logged, never propagated.
 */
export async function sendApprovalWebhook(
  settings: Settings,
  event: ApprovalEvent,
  log: Logger,
  trace?: TraceContext,
): Promise<void> {
  const url = settings.APPROVAL_WEBHOOK_URL;
  if (!url) return;
  const refused = webhookUrlProblem(url, settings.APPROVAL_WEBHOOK_ALLOW_PRIVATE);
  if (refused) {
    log.warn('approval webhook refused', { reason: refused, event: event.type });
    return;
  }
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
    const res = await withDeadline(5000, async (signal) => {
      const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal });
      await res.body?.cancel();
      return res;
    });
    if (res.status >= 300 && res.status < 400) {
      throw new Error(`webhook answered a redirect (HTTP ${res.status}); redirects are not followed`);
    }
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
    // The caller leaving ends the wait at once, and its timer with it.
    await sleep(redis ? 250 : 1000, signal).catch(() => undefined);
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
export function announceDecision(notifier: Notifier, approval: ApprovalEvent['approval']): void {
  if (approval.status === 'pending') return;
  notifier.background(signalDecision(notifier.settings, approval.id, approval.status));
  announce(notifier, { type: 'approval.decided', approval });
}
