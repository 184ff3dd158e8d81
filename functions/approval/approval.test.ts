import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { expireApprovals } from '../../shared/approvals/index.ts';
import { hmacHex } from '../../shared/approvals/receipts.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { bearer, call, type KEYS, testEnv } from '../../test/workers/helpers.ts';
import auditApp from '../audit/index.ts';
import approvalApp from './index.ts';

type Role = keyof typeof KEYS;
const json = (method: string, body: unknown, role: Role) => ({
  method,
  headers: { 'content-type': 'application/json', ...bearer(role) },
  body: JSON.stringify(body),
});

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return withPostgres(
    getSettings(await testEnv()),
    async (client) => (await client.query(text, params)).rows as T[],
  );
}

/** Records a gated action as `role` and returns its ids. */
async function gated(
  over: Record<string, unknown> = {},
  role: Role = 'agent',
  env?: Awaited<ReturnType<typeof testEnv>>,
) {
  const res = await call(auditApp, '/v1/audit/actions', {
    ...json(
      'POST',
      {
        agent_id: 'agent-ops',
        agent_name: 'Ops',
        action_type: 'delete_bucket',
        category: 'destructive',
        inputs: { bucket: 'logs' },
        ...over,
      },
      role,
    ),
    ...(env ? { env } : {}),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { action_id: string; approval: { id: string; expires_at: string } };
  return { actionId: body.action_id, approvalId: body.approval.id };
}

const decide = (id: string, decision: string, role: Role = 'approver', reason?: string) =>
  call(
    approvalApp,
    `/v1/approvals/${id}/decision`,
    json('POST', reason === undefined ? { decision } : { decision, reason }, role),
  );
const complete = (actionId: string, receipt?: string) =>
  call(
    auditApp,
    `/v1/audit/actions/${actionId}`,
    json('PATCH', receipt ? { status: 'completed', receipt } : { status: 'completed' }, 'agent'),
  );

describe('deciding', () => {
  it('first decision wins; the same again is 200 with the same body; a different one is 409', async () => {
    const { approvalId, actionId } = await gated();
    const first = await decide(approvalId, 'approve', 'approver', 'looks fine');
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(body).toMatchObject({
      id: approvalId,
      action_id: actionId,
      status: 'approved',
      decided_by: 'approver-1',
    });
    const again = await decide(approvalId, 'approve', 'approver', 'looks fine');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(body);
    const conflicting = await decide(approvalId, 'reject', 'approver2', 'no');
    expect(conflicting.status).toBe(409);
  });

  it('403 for the action’s own principal and for a non-approver; 400 for a rejection without reason', async () => {
    const own = await gated({}, 'admin');
    expect((await decide(own.approvalId, 'approve', 'admin')).status).toBe(403);
    const { approvalId } = await gated();
    expect((await decide(approvalId, 'approve', 'agent2')).status).toBe(403);
    const noReason = await decide(approvalId, 'reject', 'approver');
    expect(noReason.status).toBe(400);
    expect(((await noReason.json()) as { error: { param: string } }).error.param).toBe('reason');
  });

  it('after expiry: reads expired (not rejected), deciding is 410, and the cron writes it to the ledger', async () => {
    const { approvalId, actionId } = await gated();
    await sql("update audit.approvals set expires_at = now() - interval '1 second' where id = $1", [
      approvalId,
    ]);
    const view = (await (
      await call(approvalApp, `/v1/approvals/${approvalId}`, { headers: bearer('agent') })
    ).json()) as { status: string };
    expect(view.status).toBe('expired');
    expect((await decide(approvalId, 'approve')).status).toBe(410);
    const action = (await (
      await call(auditApp, `/v1/audit/actions/${actionId}`, { headers: bearer('agent') })
    ).json()) as { status: string };
    expect(action.status).toBe('expired');
    expect((await complete(actionId)).status).toBe(409);
    // The cron trigger, as workerd runs it.
    const ctx = createExecutionContext();
    await approvalApp.scheduled(createScheduledController({ cron: '* * * * *' }), await testEnv(), ctx);
    await waitOnExecutionContext(ctx);
    // A second run finds nothing of this approval's left to log (other files' approvals may
    // expire meanwhile: the sweep serves every due one, so only this id is checked).
    const again = await withPostgres(getSettings(await testEnv()), (client) => expireApprovals(client));
    expect(again.map((e) => e.approval.id)).not.toContain(approvalId);
    const entries = await sql<{ n: number }>(
      "select count(*)::int as n from audit.action_logs where action_id = $1 and entry_type = 'expired'",
      [actionId],
    );
    expect(entries[0]!.n).toBe(1);
    const pending = (await (
      await call(approvalApp, '/v1/approvals?status=pending', { headers: bearer('approver') })
    ).json()) as {
      data: Array<{ id: string }>;
    };
    expect(pending.data.map((a) => a.id)).not.toContain(approvalId);
  });

  it('100 concurrent conflicting decisions end in exactly one terminal state', async () => {
    const { approvalId, actionId } = await gated();
    const deciders: Role[] = ['approver', 'approver2', 'admin'];
    const total = 100;
    const concurrency = inject('stackInfo').embeddedPostgres ? 20 : 50;
    let next = 0;
    const results: Array<{ status: number; body: { status?: string } }> = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const i = next++;
          const res = await decide(approvalId, i % 2 ? 'approve' : 'reject', deciders[i % 3]!, `reason ${i}`);
          results.push({ status: res.status, body: (await res.json()) as { status?: string } });
        }
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(results.filter((r) => r.status !== 200 && r.status !== 409)).toEqual([]);
    const outcomes = new Set(ok.map((r) => r.body.status));
    expect(outcomes.size).toBe(1);
    const [final] = await sql<{ status: string }>('select status from audit.approvals where id = $1', [
      approvalId,
    ]);
    expect([...outcomes][0]).toBe(final!.status);
    const terminal = await sql<{ n: number }>(
      "select count(*)::int as n from audit.action_logs where action_id = $1 and entry_type = 'decision' and status in ('approved', 'rejected')",
      [actionId],
    );
    expect(terminal[0]!.n).toBe(1);
  }, 60_000);

  it('quorum: two distinct approvers for a wire transfer', async () => {
    const { approvalId } = await gated({
      action_type: 'wire_transfer',
      category: 'financial',
      inputs: { amount: 5000 },
    });
    const one = (await (await decide(approvalId, 'approve', 'approver')).json()) as {
      status: string;
      approvals: number;
      quorum: number;
    };
    expect(one).toMatchObject({ status: 'pending', approvals: 1, quorum: 2 });
    const same = (await (await decide(approvalId, 'approve', 'approver')).json()) as {
      status: string;
      approvals: number;
    };
    expect(same).toMatchObject({ status: 'pending', approvals: 1 });
    const two = (await (await decide(approvalId, 'approve', 'approver2')).json()) as {
      status: string;
      approvals: number;
    };
    expect(two).toMatchObject({ status: 'approved', approvals: 2 });
  });
});

describe('receipts', () => {
  it('a gated action completes only with its own receipt, once', async () => {
    const a = await gated({ inputs: { bucket: 'a' } });
    const b = await gated({ inputs: { bucket: 'b' } });
    await decide(a.approvalId, 'approve');
    await decide(b.approvalId, 'approve');
    const viewA = (await (
      await call(approvalApp, `/v1/approvals/${a.approvalId}`, { headers: bearer('agent') })
    ).json()) as {
      receipt: string;
    };
    const viewB = (await (
      await call(approvalApp, `/v1/approvals/${b.approvalId}`, { headers: bearer('agent') })
    ).json()) as {
      receipt: string;
    };
    expect(viewA.receipt).toMatch(/^rcpt_/);
    // Approvers never see the receipt.
    const asApprover = (await (
      await call(approvalApp, `/v1/approvals/${a.approvalId}`, { headers: bearer('approver') })
    ).json()) as {
      receipt?: string;
    };
    expect(asApprover.receipt).toBeUndefined();

    expect((await complete(a.actionId)).status).toBe(409);
    expect((await complete(a.actionId, viewB.receipt)).status).toBe(403);
    expect((await complete(a.actionId, `${viewA.receipt.slice(0, -2)}xx`)).status).toBe(403);
    expect((await complete(a.actionId, viewA.receipt)).status).toBe(200);
    expect((await complete(a.actionId, viewA.receipt)).status).toBe(409);
  });

  it('a rejection reaches the waiting agent with its reason', async () => {
    const { approvalId } = await gated();
    await decide(approvalId, 'reject', 'approver', 'bucket holds audit evidence; do not delete');
    const view = (await (
      await call(approvalApp, `/v1/approvals/${approvalId}`, { headers: bearer('agent') })
    ).json()) as {
      status: string;
      reason: string;
      receipt?: string;
    };
    expect(view).toMatchObject({ status: 'rejected', reason: 'bucket holds audit evidence; do not delete' });
    expect(view.receipt).toBeUndefined();
  });
});

describe('waiting and notifying', () => {
  it('long-poll returns as soon as the decision lands', async () => {
    const { approvalId } = await gated();
    const started = Date.now();
    const waiting = call(approvalApp, `/v1/approvals/${approvalId}?wait=10`, { headers: bearer('agent') });
    // No pause first: until the decision the approval is pending, so the agent is waiting either
    // way; the next test shows an undecided wait really lasts its full time.
    await decide(approvalId, 'approve');
    const view = (await (await waiting).json()) as { status: string; receipt?: string };
    expect(view.status).toBe('approved');
    expect(view.receipt).toMatch(/^rcpt_/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('long-poll on an undecided approval answers pending at its wait', async () => {
    const { approvalId } = await gated();
    const started = Date.now();
    const res = await call(approvalApp, `/v1/approvals/${approvalId}?wait=1`, { headers: bearer('agent') });
    expect(((await res.json()) as { status: string }).status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('sends a signed webhook for the new pending approval and for the decision', async () => {
    const hook = `${inject('webhookSinkUrl')}/hook/${crypto.randomUUID()}`;
    const env = await testEnv({ APPROVAL_WEBHOOK_URL: hook, APPROVAL_WEBHOOK_SECRET: 'whsec-test' });
    const { approvalId } = await gated({}, 'agent', env);
    const res = await call(approvalApp, `/v1/approvals/${approvalId}/decision`, {
      ...json('POST', { decision: 'reject', reason: 'not today' }, 'approver'),
      env,
    });
    expect(res.status).toBe(200);
    const received = (await (await fetch(hook)).json()) as Array<{
      headers: Record<string, string>;
      body: string;
    }>;
    expect(received.map((r) => JSON.parse(r.body).type)).toEqual(['approval.pending', 'approval.decided']);
    for (const r of received) {
      const expected = await hmacHex('whsec-test', `${r.headers['x-mas-timestamp']}.${r.body}`);
      expect(r.headers['x-mas-signature']).toBe(`sha256=${expected}`);
      expect(JSON.parse(r.body).text).toContain(approvalId);
      // Outgoing calls carry the correlation id and a child traceparent.
      expect(r.headers['x-correlation-id']).toBeTruthy();
      expect(r.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
  });
});
