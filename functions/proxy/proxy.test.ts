import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { bearer, call, type KEYS, testEnv } from '../../test/workers/helpers.ts';
import approvalApp from '../approval/index.ts';
import audit from '../audit/index.ts';
import proxyApp from './index.ts';

const fake = inject('integrationsFakeUrl');
const MINDEX_KEY = 'mindex-secret-key-4f8Kq2Lm9Xv7Rt1Y';
const NATUREOS_KEY = 'natureos-secret-key-9Xv7Rt1Yp3Zs';

const env = () =>
  testEnv({
    MINDEX_API_URL: `${fake}/mindex`,
    MINDEX_API_KEY: MINDEX_KEY,
    NATUREOS_API_URL: `${fake}/natureos`,
    NATUREOS_API_KEY: NATUREOS_KEY,
    WEBSITE_API_URL: `${fake}/website`,
    WEBSITE_API_KEY: 'website-key-000000000000',
  });

async function proxy(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string; role?: keyof typeof KEYS } = {},
) {
  return call(proxyApp, path, {
    method,
    headers: {
      ...bearer(init.role ?? 'agent'),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body ? { body: init.body } : {}),
    env: await env(),
  });
}

type Seen = Array<{ method: string; path: string; headers: Record<string, string>; body: string }>;
const seen = async () => (await (await fetch(`${fake}/__requests`)).json()) as Seen;

afterEach(() => vi.restoreAllMocks());

describe('proxying reads', () => {
  it('forwards to the configured host with the credential injected, and strips what must not pass', async () => {
    const res = await proxy('GET', '/v1/integrations/mindex/data/species?limit=2', {
      headers: {
        cookie: 'mas=1',
        'x-api-key': 'caller-key',
        'x-correlation-id': 'corr-proxy-0001',
        accept: 'application/json',
      },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { path: string }).path).toBe('/mindex/data/species');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('etag')).toBe('"v1"');
    const last = (await seen()).at(-1)!;
    expect(last.path).toBe('/mindex/data/species?limit=2');
    expect(last.headers.authorization).toBe(`Bearer ${MINDEX_KEY}`);
    expect(last.headers.cookie).toBeUndefined();
    expect(last.headers['x-api-key']).toBeUndefined();
    expect(last.headers['x-correlation-id']).toBe('corr-proxy-0001');
    expect(last.headers.traceparent).toMatch(/^00-/);
  });

  it("carries the rate limiter's x-ratelimit-* headers, as every limited route's answer does", async () => {
    // Set before the route ran: hono drops them from a Response the route builds itself.
    const res = await proxy('GET', '/v1/integrations/mindex/data/species');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toMatch(/^\d+$/);
    expect(res.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
    expect(res.headers.get('x-mas-integration')).toBe('mindex');
  });

  it('injects a header credential without a scheme (NatureOS)', async () => {
    expect((await proxy('GET', '/v1/integrations/natureos/entities/fungi')).status).toBe(200);
    expect((await seen()).at(-1)!.headers['x-api-key']).toBe(NATUREOS_KEY);
  });

  it('404 for an unknown integration; 403 for a method or path not allowed; 401 without a key', async () => {
    expect((await proxy('GET', '/v1/integrations/nope/data/x')).status).toBe(404);
    expect((await proxy('DELETE', '/v1/integrations/natureos/entities/x')).status).toBe(403);
    expect((await proxy('GET', '/v1/integrations/mindex/admin/users')).status).toBe(403);
    expect((await proxy('GET', '/v1/integrations/mindex/data/x', { role: 'approver' })).status).toBe(403);
    const anonymous = await call(proxyApp, '/v1/integrations/mindex/data/x', { env: await env() });
    expect(anonymous.status).toBe(401);
  });

  // Each must be refused before anything reaches an upstream.
  const attacks = [
    '/v1/integrations/mindex/data/../../admin',
    '/v1/integrations/mindex/data/%2e%2e/%2e%2e/admin',
    '/v1/integrations/mindex/data/%2E%2E%2Fadmin',
    '/v1/integrations/mindex/data/..%2fadmin',
    '/v1/integrations/mindex/data/..%5cadmin',
    '/v1/integrations/mindex/data/%252e%252e/admin',
    '/v1/integrations/mindex/data//evil.example.com/x',
    '/v1/integrations/mindex//evil.example.com/data/x',
    '/v1/integrations/mindex/data/x%00.json',
    '/v1/integrations/mindex/data/x%0d%0aHost:%20evil',
    '/v1/integrations/mindex/http://evil.example.com/data/',
    '/v1/integrations/mindex/https:%2f%2fevil.example.com',
    '/v1/integrations/mindex/data/@evil.example.com',
    '/v1/integrations/mindex/data\\..\\admin',
    '/v1/integrations/mindex/data/./../admin',
    '/v1/integrations/mindex/%2fdata/x',
    '/v1/integrations/mindex/data%2f..%2fadmin',
    '/v1/integrations/mindex/datafoo/x',
    '/v1/integrations/mindex/',
    '/v1/integrations/mindex',
    '/v1/integrations/mindex/data/x?next=%0d%0aSet-Cookie:%20a=1',
    '/v1/integrations/..%2f..%2fv1%2fadmin/data/x',
    '/v1/integrations/mindex@evil.example.com/data/x',
  ];
  it.each(attacks)('refuses %s', async (path) => {
    const before = (await seen()).length;
    const res = await proxy('GET', path);
    expect([400, 403, 404]).toContain(res.status);
    expect((await seen()).length).toBe(before);
  });
});

describe('retries and failures', () => {
  it('retries an idempotent read on 503 and succeeds', async () => {
    const id = crypto.randomUUID().slice(0, 8);
    const res = await proxy('GET', `/v1/integrations/mindex/data/fail-2-${id}`);
    expect(res.status).toBe(200);
    expect((await seen()).filter((r) => r.path.includes(`fail-2-${id}`))).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    const started = Date.now();
    const res = await proxy('GET', `/v1/integrations/mindex/data/rate-${crypto.randomUUID().slice(0, 8)}`);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not retry a non-idempotent write without an Idempotency-Key, and maps the failure to 502', async () => {
    const id = crypto.randomUUID().slice(0, 8);
    const res = await proxy('POST', `/v1/integrations/mindex/resources/fail-1-${id}`, {
      body: '{"name":"x"}',
    });
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text).error.type).toBe('upstream_error');
    expect(text).not.toContain(MINDEX_KEY);
    expect((await seen()).filter((r) => r.path.includes(`fail-1-${id}`))).toHaveLength(1);
  });

  it('retries a write that carries an Idempotency-Key', async () => {
    const id = crypto.randomUUID().slice(0, 8);
    const res = await proxy('POST', `/v1/integrations/mindex/resources/fail-1-${id}`, {
      body: '{"name":"x"}',
      headers: { 'idempotency-key': `key-${id}` },
    });
    expect(res.status).toBe(201);
    const calls = (await seen()).filter((r) => r.path.includes(`fail-1-${id}`));
    expect(calls).toHaveLength(2);
    expect(calls.every((r) => r.headers['idempotency-key'] === `key-${id}`)).toBe(true);
  });

  it('a stalled upstream is a 504 within its deadline', async () => {
    const started = Date.now();
    const res = await proxy('GET', '/v1/integrations/website/pages/stall');
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(40_000);
  }, 45_000);

  it('never writes the credential to a log line', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    await proxy('GET', '/v1/integrations/mindex/data/logged');
    await proxy('POST', `/v1/integrations/mindex/resources/fail-1-${crypto.randomUUID().slice(0, 8)}`, {
      body: '{}',
    });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(MINDEX_KEY);
  });
});

describe('audited and gated writes', () => {
  it('records an ordinary write in the audit ledger with its outcome', async () => {
    const res = await proxy('POST', '/v1/integrations/mindex/resources/notes', {
      body: '{"title":"hello","token":"tok-12345678"}',
    });
    expect(res.status).toBe(201);
    const actions = (await (
      await call(audit, '/v1/audit/actions?limit=5', { headers: bearer('agent'), env: await env() })
    ).json()) as {
      data: Array<{ action_type: string; status: string; category: string; action_id: string }>;
    };
    const mine = actions.data.find((a) => a.action_type === 'integration.mindex.post')!;
    expect(mine).toMatchObject({ status: 'completed', category: 'internal_write' });
    const detail = await (
      await call(audit, `/v1/audit/actions/${mine.action_id}`, { headers: bearer('agent'), env: await env() })
    ).text();
    expect(detail).toContain('/resources/notes');
    expect(detail).not.toContain('tok-12345678');
  });

  it('a risky write waits for approval (202), then goes through once with the receipt', async () => {
    const path = `/v1/integrations/mindex/resources/bucket-${crypto.randomUUID().slice(0, 8)}`;
    const first = await proxy('DELETE', path);
    expect(first.status).toBe(202);
    const pending = (await first.json()) as { action_id: string; approval: { id: string } };
    const upstreamPath = path.replace('/v1/integrations/mindex', '/mindex');
    const upstreamCalls = () =>
      seen().then((all) => all.filter((r) => r.method === 'DELETE' && r.path === upstreamPath));
    expect(await upstreamCalls()).toHaveLength(0);

    const decided = await call(approvalApp, `/v1/approvals/${pending.approval.id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('approver') },
      body: JSON.stringify({ decision: 'approve', reason: 'cleanup ok' }),
      env: await env(),
    });
    expect(decided.status).toBe(200);
    const view = (await (
      await call(approvalApp, `/v1/approvals/${pending.approval.id}`, {
        headers: bearer('agent'),
        env: await env(),
      })
    ).json()) as { receipt: string };

    const retryHeaders = { 'x-mas-action-id': pending.action_id, 'x-mas-approval-receipt': view.receipt };
    // The receipt does not fit another request.
    expect((await proxy('DELETE', `${path}-other`, { headers: retryHeaders })).status).toBe(403);
    const done = await proxy('DELETE', path, { headers: retryHeaders });
    expect(done.status).toBe(200);
    expect(await upstreamCalls()).toHaveLength(1);
    // Single use.
    expect((await proxy('DELETE', path, { headers: retryHeaders })).status).toBe(409);
    expect(await upstreamCalls()).toHaveLength(1);
  });
});
