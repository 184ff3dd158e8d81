import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { hmacHex } from '../../shared/approvals/receipts.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { adminSql, bearer, call, type KEYS, testEnv } from '../../test/workers/helpers.ts';
import app from '../index.ts';

// Issue 17 end to end in workerd against the real Postgres: the registry decides the category,
// the agent is bound to its key, one approvals module decides, redeems, expires, escalates and
// announces, and the page decides only through it.

type Role = keyof typeof KEYS;
type Env = Awaited<ReturnType<typeof testEnv>>;
const fake = inject('integrationsFakeUrl');
const sink = inject('webhookSinkUrl');
const proxyEnv = (over: Record<string, string | undefined> = {}) =>
  testEnv({ MINDEX_API_URL: `${fake}/mindex`, MINDEX_API_KEY: 'mindex-key-0000000000000000', ...over });

const json = (method: string, body: unknown, role: Role, headers: Record<string, string> = {}) => ({
  method,
  headers: { 'content-type': 'application/json', ...bearer(role), ...headers },
  body: JSON.stringify(body),
});

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return withPostgres(getSettings(await testEnv()), async (c) => (await c.query(text, params)).rows as T[]);
}

interface Recorded {
  action_id: string;
  status: string;
  category: string;
  claimed_category: string | null;
  policy_rule: string;
  approval?: { id: string; expires_at: string };
}

async function record(body: Record<string, unknown>, role: Role = 'agent', env?: Env, headers = {}) {
  const res = await call(app, '/v1/audit/actions', {
    ...json('POST', body, role, headers),
    ...(env ? { env } : {}),
  });
  return { res, body: (await res.json()) as Recorded & { error?: { code: string; param: string } } };
}

const writtenUnder = async (correlationId: string) =>
  Number(
    (
      await sql<{ n: string }>(
        `select (select count(*) from audit.action_logs where correlation_id = $1)
              + (select count(*) from audit.actions where correlation_id = $1) as n`,
        [correlationId],
      )
    )[0]!.n,
  );

const decide = (id: string, decision: string, role: Role, reason?: string, env?: Env) =>
  call(app, `/v1/approvals/${id}/decision`, {
    ...json('POST', reason === undefined ? { decision } : { decision, reason }, role),
    ...(env ? { env } : {}),
  });

const approvalView = async (id: string, role: Role = 'agent', env?: Env) =>
  (await (
    await call(app, `/v1/approvals/${id}`, { headers: bearer(role), ...(env ? { env } : {}) })
  ).json()) as Record<string, unknown> & { status: string; receipt?: string };

async function hooks(name: string): Promise<Array<{ headers: Record<string, string>; body: string }>> {
  return (await (await fetch(`${sink}/hook/${name}`)).json()) as Array<{
    headers: Record<string, string>;
    body: string;
  }>;
}

describe('the registry decides the category', () => {
  it('bank.pay claimed as read is gated as financial; the row records claimed and effective', async () => {
    const { res, body } = await record({
      agent_name: 'Payer',
      action_type: 'pay',
      tool_name: 'bank.pay',
      category: 'read',
      inputs: { payment: { amount: 5000, currency: 'EUR', to: 'ACME GmbH' } },
    });
    expect(res.status).toBe(201);
    expect(body).toMatchObject({
      status: 'pending_approval',
      category: 'financial',
      claimed_category: 'read',
    });
    const [row] = await sql<{
      category: string;
      detail: { claimed_category: string; category_from: string };
    }>("select category, detail from audit.action_logs where action_id = $1 and entry_type = 'action'", [
      body.action_id,
    ]);
    expect(row!.category).toBe('financial');
    expect(row!.detail).toMatchObject({ claimed_category: 'read', category_from: 'tools.bank.pay' });
    // Under the threshold at the registry's amount path (payment.amount, not inputs.amount): recorded.
    const small = await record({
      agent_name: 'Payer',
      action_type: 'pay',
      tool_name: 'bank.pay',
      category: 'read',
      inputs: { payment: { amount: 20, currency: 'EUR', to: 'ACME GmbH' } },
    });
    expect(small.body).toMatchObject({ status: 'recorded', category: 'financial' });
  });

  it('a claimed stricter category is kept', async () => {
    const { body } = await record({
      agent_name: 'P',
      action_type: 'search',
      category: 'destructive',
      inputs: {},
    });
    expect(body).toMatchObject({
      status: 'pending_approval',
      category: 'destructive',
      claimed_category: 'destructive',
    });
  });

  it('an unregistered tool is gated by unknown_tool, even claimed as read', async () => {
    const { body } = await record({
      agent_name: 'P',
      action_type: 'search',
      tool_name: 'crm.export_all',
      category: 'read',
      inputs: {},
    });
    expect(body).toMatchObject({ status: 'pending_approval', policy_rule: 'unknown_tool' });
  });

  it('inputs that fail the tool’s schema are a 400 naming the field, with nothing written', async () => {
    const correlation = `schema-${crypto.randomUUID()}`;
    const { res, body } = await record(
      {
        agent_name: 'P',
        action_type: 'pay',
        tool_name: 'bank.pay',
        inputs: { payment: { amount: 10, currency: 'euro', to: 'x' } },
      },
      'agent',
      undefined,
      { 'x-correlation-id': correlation },
    );
    expect(res.status).toBe(400);
    expect(body.error).toMatchObject({ code: 'invalid_inputs', param: 'inputs.payment.currency' });
    expect(await writtenUnder(correlation)).toBe(0);
  });
});

describe('identity bound to the key', () => {
  it('agent key A recording as agent B is 403 agent_mismatch and writes nothing', async () => {
    const correlation = `mismatch-${crypto.randomUUID()}`;
    const { res, body } = await record(
      { agent_id: 'agent-planner', agent_name: 'P', action_type: 'search', inputs: {} },
      'agent2',
      undefined,
      { 'x-correlation-id': correlation },
    );
    expect(res.status).toBe(403);
    expect(body.error?.code).toBe('agent_mismatch');
    expect(await writtenUnder(correlation)).toBe(0);
  });

  it('a bound agent id and the key’s own id are accepted; an admin records on behalf, keeping both', async () => {
    const bound = await record({
      agent_id: 'agent-planner',
      agent_name: 'P',
      action_type: 'search',
      inputs: {},
    });
    expect(bound.res.status).toBe(201);
    const own = await record({ agent_name: 'P', action_type: 'search', inputs: {} }, 'agent2');
    expect(own.res.status).toBe(201);
    const onBehalf = await record(
      { agent_id: 'billing-agent', agent_name: 'B', action_type: 'search', inputs: {} },
      'admin',
    );
    const rows = await sql<{ action_id: string; agent_id: string; principal: string }>(
      "select action_id, agent_id, principal from audit.action_logs where action_id = any($1::uuid[]) and entry_type = 'action'",
      [[bound.body.action_id, own.body.action_id, onBehalf.body.action_id]],
    );
    const by = new Map(rows.map((r) => [r.action_id, r]));
    expect(by.get(bound.body.action_id)).toMatchObject({ agent_id: 'agent-planner', principal: 'agent-1' });
    expect(by.get(own.body.action_id)).toMatchObject({ agent_id: 'agent-2', principal: 'agent-2' });
    expect(by.get(onBehalf.body.action_id)).toMatchObject({
      agent_id: 'billing-agent',
      principal: 'admin-1',
    });
  });

  it('the proxy holds x-mas-agent-id to the same rule', async () => {
    const env = await proxyEnv();
    const res = await call(app, `/v1/integrations/mindex/resources/id-${crypto.randomUUID().slice(0, 8)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent2'), 'x-mas-agent-id': 'agent-planner' },
      body: '{}',
      env,
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('agent_mismatch');
  });
});

describe('secrets outside inputs', () => {
  it('agent_name, action_type, tool_name, correlation id and justification are redacted before storing', async () => {
    const key = 'sk-proj-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp';
    const { res, body } = await record({
      agent_name: `Bot ${key}`,
      action_type: `call ${key}`,
      tool_name: `tool-${'AKIA'}IOSFODNN7EXAMPLE`,
      correlation_id: 'ghp_0123456789abcdefghijABCDEFGHIJ0123456789',
      justification: `the password=hunter2-long and ${key}, mail ceo@example.com`,
      inputs: {},
    });
    expect(res.status).toBe(201);
    const [row] = await sql<{ text: string }>(
      `select (to_jsonb(l))::text || (select to_jsonb(a)::text from audit.actions a where a.action_id = l.action_id) as text
         from audit.action_logs l where action_id = $1`,
      [body.action_id],
    );
    for (const leaked of [
      'Zz9Yy8Xx7Ww6',
      'IOSFODNN7EXAMPLE',
      'ghp_0123456789abcdef',
      'hunter2-long',
      'ceo@example.com',
    ]) {
      expect(row!.text).not.toContain(leaked);
    }
    const view = await approvalView(body.approval!.id, 'approver');
    expect(JSON.stringify(view)).not.toContain('Zz9Yy8Xx7Ww6');
    expect(view.justification).toContain('[REDACTED:');
  });
});

describe('what approvers see', () => {
  it('effective and claimed category, risk note, rule, justification, principal, time left', async () => {
    const { body } = await record({
      agent_id: 'agent-ops',
      agent_name: 'Trusted Planner',
      action_type: 'delete_bucket',
      category: 'internal_write',
      justification: 'the bucket holds only expired logs',
      inputs: { bucket: 'old-logs' },
    });
    const view = await approvalView(body.approval!.id, 'approver');
    expect(view).toMatchObject({
      principal: 'agent-1',
      agent_id: 'agent-ops',
      agent_name: 'Trusted Planner',
      category: 'destructive',
      claimed_category: 'internal_write',
      risk: 'Deletes a bucket and every object in it.',
      policy_rule: 'categories.destructive',
      justification: 'the bucket holds only expired logs',
      inputs: { bucket: 'old-logs' },
    });
    expect(view.expires_in_seconds).toBeGreaterThan(800);
    // The requesting agent sees its approval but not the approvers' view of the inputs.
    expect(await approvalView(body.approval!.id, 'agent')).not.toHaveProperty('inputs');
  });
});

describe('deciding', () => {
  it('200 concurrent decisions on one approval: only 200 replays and 409s, never a 503', async () => {
    const { body } = await record({ agent_name: 'P', action_type: 'wipe', inputs: {} });
    const id = body.approval!.id;
    const deciders: Role[] = ['approver', 'approver2', 'admin'];
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await decide(id, i % 2 ? 'approve' : 'reject', deciders[i % 3]!, `reason ${i}`);
        return { status: res.status, body: (await res.json()) as { status?: string } };
      }),
    );
    expect(results.filter((r) => r.status !== 200 && r.status !== 409)).toEqual([]);
    const [final] = await sql<{ status: string }>('select status from audit.approvals where id = $1', [id]);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((r) => r.body.status))).toEqual(new Set([final!.status]));
    const [entries] = await sql<{ n: number }>(
      "select count(*)::int as n from audit.action_logs where action_id = $1 and entry_type = 'decision'",
      [body.action_id],
    );
    expect(entries!.n).toBe(1);
  }, 120_000);

  it('the same approver approving twice is an idempotent replay: one decision, one entry', async () => {
    // wire_transfer needs two approvers, so the first approval leaves it pending.
    const { body } = await record({ agent_name: 'P', action_type: 'wire_transfer', inputs: { amount: 10 } });
    const id = body.approval!.id;
    const first = await decide(id, 'approve', 'approver', 'ok');
    const again = await decide(id, 'approve', 'approver', 'ok');
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'pending', approvals: 1 });
    expect((await decide(id, 'reject', 'approver', 'changed my mind')).status).toBe(409);
    const [n] = await sql<{ decisions: number; entries: number }>(
      `select (select count(*)::int from audit.approval_decisions where approval_id = $1) as decisions,
              (select count(*)::int from audit.action_logs where action_id = $2 and entry_type = 'decision') as entries`,
      [id, body.action_id],
    );
    expect(n).toEqual({ decisions: 1, entries: 1 });
    expect(await (await decide(id, 'approve', 'approver2', 'ok too')).json()).toMatchObject({
      status: 'approved',
    });
  });

  it('paging 250 pending approvals as an approver who may decide only some returns each of those once', async () => {
    const agent = `pager-${crypto.randomUUID().slice(0, 8)}`;
    const mine = new Set<string>();
    const others = new Set<string>();
    const kinds = Array.from({ length: 250 }, (_, i) => i);
    for (let i = 0; i < kinds.length; i += 10) {
      await Promise.all(
        kinds.slice(i, i + 10).map(async (n) => {
          // rotate_credentials is for security-lead alone; approver-1 may decide the others.
          const { body } = await record(
            {
              agent_id: agent,
              agent_name: 'P',
              action_type: n % 3 ? 'wipe' : 'rotate_credentials',
              inputs: { n },
            },
            'admin',
          );
          (n % 3 ? mine : others).add(body.approval!.id);
        }),
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(
        app,
        `/v1/approvals?status=pending&agent_id=${agent}&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        { headers: bearer('approver') },
      );
      const page = (await res.json()) as { data: Array<{ id: string }>; next_cursor: string | null };
      if (page.next_cursor) expect(page.data).toHaveLength(7);
      seen.push(...page.data.map((a) => a.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    expect(seen.length).toBe(mine.size);
    expect(new Set(seen)).toEqual(mine);
    expect(seen.some((id) => others.has(id))).toBe(false);
  }, 180_000);
});

describe('receipts', () => {
  async function approved(env?: Env) {
    const { body } = await record(
      { agent_name: 'P', action_type: 'wipe', inputs: { what: 'tmp' } },
      'agent',
      env,
    );
    expect((await decide(body.approval!.id, 'approve', 'approver', 'fine', env)).status).toBe(200);
    const view = await approvalView(body.approval!.id, 'agent', env);
    return { actionId: body.action_id, approvalId: body.approval!.id, receipt: view.receipt! };
  }

  it('a receipt redeemed by 50 concurrent callers completes the action exactly once', async () => {
    const { actionId, receipt } = await approved();
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(
          app,
          `/v1/audit/actions/${actionId}`,
          json('PATCH', { status: 'completed', receipt }, 'agent'),
        ).then((r) => r.status),
      ),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(1);
    expect(results.filter((s) => s !== 200 && s !== 409)).toEqual([]);
    const [n] = await sql<{ n: number }>(
      "select count(*)::int as n from audit.action_logs where action_id = $1 and status = 'completed'",
      [actionId],
    );
    expect(n!.n).toBe(1);
  }, 60_000);

  it('an action cancelled after approval cannot complete with its receipt; once redeemed, it cannot be cancelled', async () => {
    const a = await approved();
    expect(
      (await call(app, `/v1/audit/actions/${a.actionId}`, json('PATCH', { status: 'cancelled' }, 'agent')))
        .status,
    ).toBe(200);
    const late = await call(
      app,
      `/v1/audit/actions/${a.actionId}`,
      json('PATCH', { status: 'completed', receipt: a.receipt }, 'agent'),
    );
    expect(late.status).toBe(409);
    const [row] = await sql<{ receipt_used_at: Date | null }>(
      'select receipt_used_at from audit.approvals where id = $1',
      [a.approvalId],
    );
    expect(row!.receipt_used_at).toBeNull();
  });

  it('a proxy write cancelled after approval is not forwarded on retry with the receipt', async () => {
    const env = await proxyEnv();
    const path = `/v1/integrations/mindex/resources/cancel-${crypto.randomUUID().slice(0, 8)}`;
    const first = await call(app, path, { method: 'DELETE', headers: bearer('agent'), env });
    expect(first.status).toBe(202);
    const pending = (await first.json()) as { action_id: string; approval: { id: string } };
    expect((await decide(pending.approval.id, 'approve', 'approver', 'ok', env)).status).toBe(200);
    const { receipt } = await approvalView(pending.approval.id, 'agent', env);
    const cancelled = await call(app, `/v1/audit/actions/${pending.action_id}`, {
      ...json('PATCH', { status: 'cancelled' }, 'agent'),
      env,
    });
    expect(cancelled.status).toBe(200);
    const retry = await call(app, path, {
      method: 'DELETE',
      headers: {
        ...bearer('agent'),
        'x-mas-action-id': pending.action_id,
        'x-mas-approval-receipt': receipt!,
      },
      env,
    });
    expect(retry.status).toBe(409);
    const seen = (await (await fetch(`${fake}/__requests`)).json()) as Array<{
      method: string;
      path: string;
    }>;
    expect(
      seen.filter((r) => r.method === 'DELETE' && r.path === path.replace('/v1/integrations', '')),
    ).toEqual([]);
  });
});

describe('webhooks', () => {
  it('a proxy-gated write sends the pending webhook, HMAC-signed', async () => {
    const name = crypto.randomUUID();
    const env = await proxyEnv({
      APPROVAL_WEBHOOK_URL: `${sink}/hook/${name}`,
      APPROVAL_WEBHOOK_SECRET: 'whsec-proxy',
    });
    const res = await call(app, `/v1/integrations/mindex/resources/hook-${name.slice(0, 8)}`, {
      method: 'DELETE',
      headers: bearer('agent'),
      env,
    });
    expect(res.status).toBe(202);
    const { approval } = (await res.json()) as { approval: { id: string } };
    const received = await hooks(name);
    expect(received).toHaveLength(1);
    const event = JSON.parse(received[0]!.body) as { type: string; approval: Record<string, unknown> };
    expect(event).toMatchObject({
      type: 'approval.pending',
      approval: {
        id: approval.id,
        category: 'destructive',
        principal: 'agent-1',
        risk: 'Deletes MINDEX resources.',
      },
    });
    const expected = await hmacHex(
      'whsec-proxy',
      `${received[0]!.headers['x-mas-timestamp']}.${received[0]!.body}`,
    );
    expect(received[0]!.headers['x-mas-signature']).toBe(`sha256=${expected}`);
  });

  it('never follows a redirect, and refuses a private address unless allowed; Slack text is escaped', async () => {
    const name = crypto.randomUUID();
    const redirecting = await testEnv({ APPROVAL_WEBHOOK_URL: `${sink}/redirect/${name}` });
    await record(
      { agent_name: 'P', action_type: '<!channel> <https://evil.example|Click here>', inputs: {} },
      'agent',
      redirecting,
    );
    const posted = (await (await fetch(`${sink}/redirect/${name}`)).json()) as Array<{ body: string }>;
    expect(posted).toHaveLength(1);
    // The sink answered 307 to /hook/<name>: nothing arrived there.
    expect(await hooks(name)).toEqual([]);
    const text = (JSON.parse(posted[0]!.body) as { text: string }).text;
    expect(text).toContain('&lt;!channel&gt; &lt;https://evil.example|Click here&gt;');
    expect(text).not.toMatch(/<!channel>|<https:/);

    const privateName = crypto.randomUUID();
    const refused = await testEnv({
      APPROVAL_WEBHOOK_URL: `${sink}/hook/${privateName}`,
      APPROVAL_WEBHOOK_ALLOW_PRIVATE: undefined,
    });
    const { res } = await record({ agent_name: 'P', action_type: 'wipe', inputs: {} }, 'agent', refused);
    expect(res.status).toBe(201);
    expect(await hooks(privateName)).toEqual([]);
  });
});

describe('escalation', () => {
  it('fires once, at the configured time, and lets the escalate_to approvers decide', async () => {
    const name = crypto.randomUUID();
    const env = await testEnv({ APPROVAL_WEBHOOK_URL: `${sink}/hook/${name}` });
    const { body } = await record(
      { agent_name: 'P', action_type: 'rotate_credentials', inputs: {} },
      'agent',
      env,
    );
    const id = body.approval!.id;
    const [row] = await sql<{ created_at: Date; escalate_at: Date }>(
      'select created_at, escalate_at from audit.approvals where id = $1',
      [id],
    );
    // config/policies.yaml: escalate_after_seconds: 300 for rotate_credentials.
    expect(row!.escalate_at.getTime() - row!.created_at.getTime()).toBe(300_000);
    expect((await decide(id, 'approve', 'securityDeputy', 'early', env)).status).toBe(403);

    const sweep = async () => {
      const ctx = createExecutionContext();
      await app.scheduled(createScheduledController({ cron: '* * * * *' }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    // The sweep serves every due approval in the database; only this one's events count here.
    const escalations = async () =>
      (await hooks(name))
        .map((h) => JSON.parse(h.body) as { type: string; escalated?: boolean; approval: { id: string } })
        .filter((e) => e.escalated && e.approval.id === id);
    await sweep();
    expect(await escalations()).toEqual([]);
    // Its time comes (as the owner: the application may not move escalate_at).
    await adminSql("update audit.approvals set escalate_at = now() - interval '1 second' where id = $1", [
      id,
    ]);
    // Each sweep takes at most 100 due approvals, oldest first: poll until this one's turn came.
    await expect
      .poll(
        async () => {
          await sweep();
          return (await escalations()).length;
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBe(1);
    await sweep();
    await sweep();
    const fired = await escalations();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ type: 'approval.pending', escalated: true });
    const [entries] = await sql<{ n: number }>(
      "select count(*)::int as n from audit.action_logs where action_id = $1 and entry_type = 'approval'",
      [body.action_id],
    );
    expect(entries!.n).toBe(1);
    const decided = await decide(id, 'approve', 'securityDeputy', 'rotating now', env);
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({
      status: 'approved',
      escalated: true,
      decided_by: 'security-deputy',
    });
  });
});
