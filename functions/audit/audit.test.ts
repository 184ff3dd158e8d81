import { describe, expect, it } from 'vitest';
import { adminSql, bearer, call, type KEYS, testEnv } from '../../test/workers/helpers.ts';
import auditApp from './index.ts';

const post = (body: unknown, role: keyof typeof KEYS = 'agent', env?: Awaited<ReturnType<typeof testEnv>>) =>
  call(auditApp, '/v1/audit/actions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(role) },
    body: JSON.stringify(body),
    ...(env ? { env } : {}),
  });
const patch = (id: string, body: unknown, role: keyof typeof KEYS = 'agent') =>
  call(auditApp, `/v1/audit/actions/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...bearer(role) },
    body: JSON.stringify(body),
  });
const get = (path: string, role: keyof typeof KEYS = 'admin') =>
  call(auditApp, path, { headers: bearer(role) });

const action = (over: Record<string, unknown> = {}) => ({
  agent_id: 'agent-planner',
  agent_name: 'Planner',
  action_type: 'search',
  category: 'read',
  inputs: { q: 'weather' },
  ...over,
});

/** As the migrations' owner: the functions themselves run as mas_app. */
const sql = adminSql;

/** Ledger entries and actions written under one request's correlation id (other tests and the
 * escalation sweep write concurrently, so a whole-ledger count could move under us). */
const writtenBy = async (res: Response) => {
  const id = res.headers.get('x-request-id')!;
  const rows = await sql<{ n: string }>(
    `select (select count(*) from audit.action_logs where correlation_id = $1)
          + (select count(*) from audit.actions where correlation_id = $1) as n`,
    [id],
  );
  return Number(rows[0]!.n);
};

describe('POST /v1/audit/actions', () => {
  it('records a read action and derives its state', async () => {
    const res = await post(action());
    expect(res.status).toBe(201);
    // The entry and the action's state, found by the correlation id the "nothing written" checks use.
    expect(await writtenBy(res)).toBe(2);
    const body = (await res.json()) as { action_id: string; status: string; approval?: unknown };
    expect(body.status).toBe('recorded');
    expect(body.approval).toBeUndefined();
    const detail = (await (await get(`/v1/audit/actions/${body.action_id}`)).json()) as {
      status: string;
      principal: string;
      entries: Array<{ entry_type: string; policy_version: string }>;
    };
    expect(detail.status).toBe('recorded');
    expect(detail.principal).toBe('agent-1');
    expect(detail.entries).toHaveLength(1);
    expect(detail.entries[0]!.policy_version).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each([
    ['financial under the threshold', { category: 'financial', inputs: { amount: 50 } }, 'recorded'],
    ['financial over the threshold', { category: 'financial', inputs: { amount: 150 } }, 'pending_approval'],
    [
      'financial without a readable amount (fails closed)',
      { category: 'financial', inputs: {} },
      'pending_approval',
    ],
    ['external write', { category: 'external_write' }, 'pending_approval'],
    ['destructive', { category: 'destructive' }, 'pending_approval'],
    ['an unknown category', { category: 'teleport' }, 'pending_approval'],
    [
      'a risky tool inside a read category',
      { category: 'read', tool_name: 'shell.exec' },
      'pending_approval',
    ],
  ])('policy: %s → %s', async (_, over, status) => {
    const res = await post(action(over));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { status: string; approval?: { id: string; expires_at: string } };
    expect(body.status).toBe(status);
    if (status === 'pending_approval') {
      expect(body.approval?.id).toMatch(/^[0-9a-f-]{36}$/);
      const expiresIn = Date.parse(body.approval!.expires_at) - Date.now();
      expect(expiresIn).toBeGreaterThan(14 * 60_000);
      expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);
    }
  });

  it('APPROVAL_REQUIRED=false records instead, and the row says the gate was bypassed', async () => {
    const env = await testEnv({ APPROVAL_REQUIRED: 'false' });
    const res = await post(action({ category: 'destructive' }), 'agent', env);
    const body = (await res.json()) as { action_id: string; status: string };
    expect(body.status).toBe('recorded');
    const rows = await sql<{ approval_bypassed: boolean }>(
      'select approval_bypassed from audit.action_logs where action_id = $1',
      [body.action_id],
    );
    expect(rows[0]!.approval_bypassed).toBe(true);
  });

  it('redacts inputs before they are hashed or stored: no secret reaches the database', async () => {
    const secrets = {
      api_key: 'sk-proj-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp',
      note: 'pay with 4111 1111 1111 1111 and mail ceo@example.com',
      url: 'postgres://app:Sup3rS3cret@db:5432/x',
      nested: [{ headers: { Authorization: 'Bearer abcdefgh12345678' } }],
    };
    const res = await post(action({ inputs: secrets }));
    const { action_id } = (await res.json()) as { action_id: string };
    const [row] = await sql<{ text: string }>(
      `select (to_jsonb(l) - 'row_hash' - 'prev_hash')::text || (select to_jsonb(a)::text from audit.actions a where a.action_id = l.action_id) as text
         from audit.action_logs l where action_id = $1`,
      [action_id],
    );
    for (const leaked of [
      'Zz9Yy8Xx7Ww6',
      '4111 1111',
      'ceo@example.com',
      'Sup3rS3cret',
      'abcdefgh12345678',
    ]) {
      expect(row!.text).not.toContain(leaked);
    }
    expect(row!.text).toContain('[REDACTED:');
    const [rules] = await sql<{ redaction_rules: string[] }>(
      'select redaction_rules from audit.action_logs where action_id = $1',
      [action_id],
    );
    expect(rules!.redaction_rules).toEqual(
      expect.arrayContaining(['key:api_key', 'credit_card', 'email', 'url_password']),
    );
  });

  it.each([
    ['agent_id over 128 characters', { ...action(), agent_id: 'a'.repeat(129) }, 'agent_id'],
    ['wrong type for inputs', { ...action(), inputs: 'text' }, 'inputs'],
    ['unknown field', { ...action(), extra: 1 }, null],
    ['empty action_type', { ...action(), action_type: '' }, 'action_type'],
  ])('400 for %s, and nothing is written', async (_, body, param) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const err = (await res.json()) as { error: { param: string | null } };
    if (param) expect(err.error.param).toBe(param);
    expect(await writtenBy(res)).toBe(0);
  });

  it('an approver cannot record actions (403)', async () => {
    expect((await post(action(), 'approver')).status).toBe(403);
  });

  it('ACTION_AUDIT_ENABLED=false refuses writes with 503 and writes nothing', async () => {
    const res = await post(action(), 'agent', await testEnv({ ACTION_AUDIT_ENABLED: 'false' }));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('audit_disabled');
    expect(await writtenBy(res)).toBe(0);
  });
});

describe('PATCH /v1/audit/actions/{id}', () => {
  it('completes a recorded action once; a second change is 409', async () => {
    const { action_id } = (await (await post(action())).json()) as { action_id: string };
    const res = await patch(action_id, {
      status: 'completed',
      outputs: { rows: 3, token: 'secret-token-value' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'completed', previous_status: 'recorded' });
    expect((await patch(action_id, { status: 'failed' })).status).toBe(409);
    const [row] = await sql<{ outputs: unknown }>(
      "select outputs from audit.action_logs where action_id = $1 and entry_type = 'status'",
      [action_id],
    );
    expect(JSON.stringify(row!.outputs)).not.toContain('secret-token-value');
  });

  it('an action pending approval cannot be completed (409) but can be cancelled', async () => {
    const { action_id } = (await (await post(action({ category: 'destructive' }))).json()) as {
      action_id: string;
    };
    expect((await patch(action_id, { status: 'completed' })).status).toBe(409);
    expect((await patch(action_id, { status: 'cancelled' })).status).toBe(200);
  });

  it('another agent cannot update it (403); an unknown id is 404; a bad id is 400', async () => {
    const { action_id } = (await (await post(action())).json()) as { action_id: string };
    const other = await testEnv({
      MAS_API_KEYS: `${(await testEnv()).MAS_API_KEYS},agent-2:agent:${'0'.repeat(64)}`,
    });
    void other;
    expect((await patch(action_id, { status: 'completed' }, 'admin')).status).toBe(200);
    expect((await patch(crypto.randomUUID(), { status: 'completed' })).status).toBe(404);
    expect((await patch('not-a-uuid', { status: 'completed' })).status).toBe(400);
  });
});

describe('GET /v1/audit/actions', () => {
  it('filters and pages newest first with an opaque cursor', async () => {
    const agent = `agent-list-${crypto.randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      // An admin may record as any agent id.
      ids.push(
        ((await (await post(action({ agent_id: agent }), 'admin')).json()) as { action_id: string })
          .action_id,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(
        `/v1/audit/actions?agent_id=${agent}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      const page = (await res.json()) as { data: Array<{ action_id: string }>; next_cursor: string | null };
      seen.push(...page.data.map((a) => a.action_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const pending = (await (
      await get(`/v1/audit/actions?agent_id=${agent}&status=pending_approval`)
    ).json()) as { data: unknown[] };
    expect(pending.data).toHaveLength(0);
    expect((await get('/v1/audit/actions?cursor=garbage')).status).toBe(400);
    expect((await get('/v1/audit/actions?limit=9999')).status).toBe(400);
  });
});

// The ledger itself (append path, sealing, checkpoints, proofs, tampering): ledger.test.ts and
// ledger-attacks.test.ts.
