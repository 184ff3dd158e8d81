import { describe, expect, inject, it } from 'vitest';
import app from '../../functions/index.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { bearer, call, type KEYS, testEnv } from './helpers.ts';

// Hostile values that are valid input: accepted, stored verbatim (redacted only where a secret
// rule applies), never interpreted, and rendered inert. Bad input that is refused is in
// bad-input.test.ts.

type Role = keyof typeof KEYS;
const json = (method: string, body: unknown, role: Role, headers: Record<string, string> = {}) => ({
  method,
  headers: { 'content-type': 'application/json', ...bearer(role), ...headers },
  body: JSON.stringify(body),
});

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return withPostgres(
    getSettings(await testEnv()),
    async (client) => (await client.query(text, params)).rows as T[],
  );
}

async function record(body: Record<string, unknown>, role: Role = 'agent') {
  const res = await call(app, '/v1/audit/actions', json('POST', body, role));
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { action_id: string; status: string; approval?: { id: string } };
}

describe('x-correlation-id that tries to inject', () => {
  // CR and LF themselves never reach the worker: the runtime refuses them in a header value
  // (here) and HTTP framing splits them into separate headers (test/node/faults-postgres.test.ts).
  it('the runtime refuses a raw CR/LF in a header value before any code runs', () => {
    expect(() => new Headers({ 'x-correlation-id': 'abcdefgh\r\nset-cookie: x=1' })).toThrow();
  });

  it.each([
    ['encoded CRLF', 'abcdefgh%0d%0aSet-Cookie:%20mas=1'],
    ['a tab', 'abcdefgh\tset-cookie'],
    ['Latin-1 letters', 'ünïcødé-12345678'],
    ['markup', '<script>alert(1)</script>'],
    ['SQL', "x'; drop table audit.action_logs; --"],
    ['a path', '../../../../etc/passwd'],
    ['129 characters', 'a'.repeat(129)],
  ])('%s is replaced by a fresh id, on success and on error, and adds no header', async (_, value) => {
    for (const [path, init] of [
      ['/health', {}],
      ['/v1/audit/actions', { method: 'POST', headers: bearer('agent'), body: '{' }],
    ] as const) {
      const res = await call(app, path, {
        ...init,
        headers: { ...('headers' in init ? init.headers : {}), 'x-correlation-id': value },
      });
      expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f]{32}$/);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.text()).not.toContain(value);
    }
  });

  it('a traceparent carrying junk is ignored, not echoed', async () => {
    const res = await call(app, '/health', {
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01%0d%0aset-cookie:x' },
    });
    expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('x-correlation-id')).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });
});

describe('SQL-looking strings in every stored field', () => {
  const S = {
    agent_id: "agent'); DROP TABLE audit.action_logs; --",
    agent_name: 'Robert"); DELETE FROM audit.actions WHERE (""="',
    action_type: "x' OR '1'='1",
    category: "read'; UPDATE audit.approvals SET status='approved'; --",
    tool_name: '$1::text; select pg_sleep(10); $$ $tag$',
    inputs: {
      q: "' UNION SELECT key_hash FROM auth.api_keys --",
      "k'); --": "\\x00 \\\\ E'\\047' ; COMMIT; BEGIN;",
      nested: [{ ')::jsonb': '{"a": 1}::jsonb || \'{"b":2}\'' }],
      password: "' OR 1=1 --",
    },
  };

  it('are stored and returned verbatim, never run; only the secret rule fires; the chain verifies', async () => {
    // An admin may record on behalf of any agent id (an agent key only as the ids bound to it).
    const recorded = await record({ ...S }, 'admin');
    // An unknown (SQL-looking) category is gated, so the approvals path stores them too.
    expect(recorded.status).toBe('pending_approval');

    const [row] = await sql<Record<string, unknown>>(
      `select agent_id, agent_name, action_type, category, tool_name, inputs, redaction_rules
         from audit.action_logs where action_id = $1`,
      [recorded.action_id],
    );
    expect(row).toMatchObject({
      agent_id: S.agent_id,
      agent_name: S.agent_name,
      action_type: S.action_type,
      category: S.category,
      tool_name: S.tool_name,
      inputs: { ...S.inputs, password: '[REDACTED:key:password]' },
      redaction_rules: ['key:password'],
    });

    const detail = (await (
      await call(app, `/v1/audit/actions/${recorded.action_id}`, { headers: bearer('admin') })
    ).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ agent_id: S.agent_id, action_type: S.action_type, category: S.category });

    // Filters are parameters: the SQL-looking agent id finds exactly its own action.
    const list = (await (
      await call(app, `/v1/audit/actions?agent_id=${encodeURIComponent(S.agent_id)}&limit=100`, {
        headers: bearer('admin'),
      })
    ).json()) as { data: Array<{ agent_id: string }> };
    expect(list.data.length).toBeGreaterThan(0);
    expect(list.data.every((a) => a.agent_id === S.agent_id)).toBe(true);

    const reason = "'; UPDATE audit.approvals SET status = 'approved' WHERE '1'='1";
    const decided = await call(
      app,
      `/v1/approvals/${recorded.approval!.id}/decision`,
      json('POST', { decision: 'reject', reason }, 'approver'),
    );
    expect(decided.status).toBe(200);
    const [approval] = await sql<{ status: string; reason: string }>(
      'select status, reason from audit.approvals where id = $1',
      [recorded.approval!.id],
    );
    expect(approval).toEqual({ status: 'rejected', reason });

    const plain = await record({ ...S, category: 'read' }, 'admin');
    const error = "'); DELETE FROM audit.chain_head; --";
    const outputs = { rows: '1; TRUNCATE audit.action_logs CASCADE; --' };
    const patched = await call(
      app,
      `/v1/audit/actions/${plain.action_id}`,
      // Unregistered, so gated whatever its claimed category: cancelling is what it may do.
      json('PATCH', { status: 'cancelled', error, outputs }, 'admin'),
    );
    expect(patched.status).toBe(200);
    const [status] = await sql<{ error: string; outputs: unknown }>(
      "select error, outputs from audit.action_logs where action_id = $1 and entry_type = 'status'",
      [plain.action_id],
    );
    expect(status).toEqual({ error, outputs });

    const verify = (await (await call(app, '/v1/audit/verify', { headers: bearer('admin') })).json()) as {
      ok: boolean;
      first_bad?: unknown;
    };
    expect(verify.ok, JSON.stringify(verify.first_bad)).toBe(true);
  });
});

describe('integration writes with bodies Postgres cannot store', () => {
  it('a JSON write holding NUL is forwarded once and audited by its size', async () => {
    const fake = inject('integrationsFakeUrl');
    const env = await testEnv({
      MINDEX_API_URL: `${fake}/mindex`,
      MINDEX_API_KEY: 'mindex-key-000000000000',
    });
    const path = `/v1/integrations/mindex/resources/nul-${crypto.randomUUID().slice(0, 8)}`;
    const body = '{"note":"a\\u0000b","bad":"\\ud800"}';
    const res = await call(app, path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('agent') },
      body,
      env,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const upstream = path.replace('/v1/integrations/mindex', '/mindex');
    const seen = (await (await fetch(`${fake}/__requests`)).json()) as Array<{ path: string; body: string }>;
    expect(seen.filter((r) => r.path === upstream).map((r) => r.body)).toEqual([body]);
    const [row] = await sql<{ inputs: { body: unknown; path: string } }>(
      "select inputs from audit.action_logs where inputs->>'path' = $1 and entry_type = 'action'",
      [upstream.replace('/mindex', '')],
    );
    expect(row!.inputs.body).toEqual({ bytes: new TextEncoder().encode(body).byteLength });
  });
});

describe('XSS payloads on the approvals page', () => {
  const X = {
    script: '<script>document.title="owned"</script>',
    img: '<img src=x onerror="alert(1)">',
    attr: '" autofocus onfocus="alert(2)',
    svg: '<svg/onload=alert(3)>',
  };

  async function signIn(): Promise<string> {
    const res = await call(app, '/approvals/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://mas.test' },
      body: new URLSearchParams({ key: 'mas_test_approver_key_0123456789abcdef' }).toString(),
    });
    expect(res.status).toBe(303);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('renders every agent-controlled field and the decision reason as escaped text', async () => {
    const pending = await record(
      {
        agent_id: `xss-${X.attr}`,
        agent_name: X.script,
        action_type: X.img,
        category: 'external_write',
        tool_name: X.svg,
        justification: X.script,
        inputs: { [X.script]: X.img, note: X.attr, list: [X.svg] },
      },
      'admin',
    );
    const rejected = await record({
      agent_id: 'xss-bot',
      agent_name: 'XSS Bot',
      action_type: X.svg,
      category: 'destructive',
      inputs: {},
    });
    await call(
      app,
      `/v1/approvals/${rejected.approval!.id}/decision`,
      json('POST', { decision: 'reject', reason: X.script }, 'approver'),
    );

    const cookie = await signIn();
    const res = await call(app, '/approvals', { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    // The page's own script (same-origin, CSP 'self') is the only script tag.
    const html = (await res.text()).replace('<script src="/approvals/assets/page.js" defer=""></script>', '');
    expect(html).toContain(`data-approval="${pending.approval!.id}"`);
    expect(html).toContain(`data-decided="${rejected.approval!.id}"`);
    // No payload survives as markup; each is there as text.
    expect(html).not.toMatch(/<script|<img|<svg|onerror="|onfocus="/i);
    expect(html).toContain('&lt;script&gt;document.title=');
    expect(html).toContain('&lt;img src=x onerror=');
    expect(html).toContain('&lt;svg/onload=alert(3)&gt;');
  });

  it('escapes the flash message taken from the query string', async () => {
    const res = await call(app, `/approvals?flash=${encodeURIComponent(X.script + X.img)}`);
    const html = await res.text();
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain('&lt;script&gt;');
  });
});
