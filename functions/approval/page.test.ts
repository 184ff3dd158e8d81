import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { adminSql, bearer, call, KEYS, testEnv, testKeysSecret } from '../../test/workers/helpers.ts';
import app from '../index.ts';

// The approvals page's session and decision rules, over HTTP inside workerd (the browser flow
// itself is in test/node/approvals-page.test.ts).

type Env = Awaited<ReturnType<typeof testEnv>>;
const ORIGIN = { origin: 'http://mas.test' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function signIn(key: string = KEYS.approver, env?: Env): Promise<string> {
  const res = await call(app, '/approvals/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...ORIGIN },
    body: form({ key }),
    ...(env ? { env } : {}),
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/approvals');
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function page(cookie: string, env?: Env, path = '/approvals') {
  const res = await call(app, path, { headers: { cookie }, ...(env ? { env } : {}) });
  return { res, html: await res.text() };
}

const csrfOf = (html: string) => /name="csrf" value="([0-9a-f]{64})"/.exec(html)?.[1] ?? '';

async function gated(env?: Env) {
  const res = await call(app, '/v1/audit/actions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('agent') },
    body: JSON.stringify({ agent_name: 'Trusted Planner', action_type: 'wipe', inputs: { n: 1 } }),
    ...(env ? { env } : {}),
  });
  return ((await res.json()) as { approval: { id: string } }).approval.id;
}

const pageDecide = (id: string, cookie: string, fields: Record<string, string>, env?: Env) =>
  call(app, `/approvals/${id}/decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...ORIGIN },
    body: form(fields),
    ...(env ? { env } : {}),
  });

describe('approvals page sessions', () => {
  it('shows the signed-in approver, the authenticated principal first and the agent’s name only as such', async () => {
    const id = await gated();
    const { html } = await page(await signIn());
    expect(html).toMatch(/data-signed-in[^>]*>approver-1</);
    const card = html.slice(html.indexOf(`data-approval="${id}"`));
    const principalAt = card.search(/data-principal[^>]*>agent-1</);
    expect(principalAt).toBeGreaterThan(-1);
    expect(principalAt).toBeLessThan(card.indexOf('Trusted Planner'));
    expect(card).toContain('calls itself “Trusted Planner”');
  });

  it('security headers come with a CSP that allows no inline script or style', async () => {
    const { res } = await page(await signIn());
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('logout ends the session on the server: the old cookie no longer signs in', async () => {
    const cookie = await signIn();
    const { html } = await page(cookie);
    const out = await call(app, '/approvals/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...ORIGIN },
      body: form({ csrf: csrfOf(html) }),
    });
    expect(out.status).toBe(303);
    // A copy of the cookie kept from before the logout:
    const after = await page(cookie);
    expect(after.html).toContain('name="key"');
    const id = await gated();
    expect((await pageDecide(id, cookie, { decision: 'approve', csrf: csrfOf(html) })).status).toBe(401);
  });

  it('a revoked approver key stops deciding through an open session', async () => {
    const id = await gated();
    const cookie = await signIn();
    const { html } = await page(cookie);
    // The same deployment once approver-1's key is gone from MAS_API_KEYS (a new env, as after a deploy).
    const without = (await testKeysSecret())
      .split(',')
      .filter((entry) => !entry.startsWith('approver-1:'))
      .join(',');
    const revoked = await testEnv({ MAS_API_KEYS: without });
    const res = await pageDecide(id, cookie, { decision: 'approve', csrf: csrfOf(html) }, revoked);
    expect(res.status).toBe(401);
    const view = (await (await call(app, `/v1/approvals/${id}`, { headers: bearer('agent') })).json()) as {
      status: string;
    };
    expect(view.status).toBe('pending');
  });

  it('a cookie with extra segments, or re-signed by someone else, is no session', async () => {
    const cookie = await signIn();
    const [name, value] = cookie.split('=') as [string, string];
    const decoded = decodeURIComponent(value);
    for (const forged of [
      `${name}=${encodeURIComponent(`${decoded}.extra`)}`,
      `${name}=${encodeURIComponent(`x.${decoded}`)}`,
      `${name}=${encodeURIComponent(`${decoded.split('.')[0]}.${btoa('0'.repeat(32))}`)}`,
    ]) {
      const { html } = await page(forged);
      expect(html).toContain('name="key"');
    }
  });

  it('a filter narrows the list; one too long to be a category is dropped, not refused', async () => {
    const id = await gated();
    const cookie = await signIn();
    const narrowed = await page(cookie, undefined, '/approvals?category=no-such-category');
    expect(narrowed.res.status).toBe(200);
    expect(narrowed.html).not.toContain(`data-approval="${id}"`);
    const dropped = await page(cookie, undefined, `/approvals?category=${'x'.repeat(65)}&agent_id=`);
    expect(dropped.res.status).toBe(200);
    expect(dropped.html).toContain(`data-approval="${id}"`);
  });

  it('the sign-in form refuses a cross-site post (login CSRF) and agent keys', async () => {
    const cross = await call(app, '/approvals/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: form({ key: KEYS.approver }),
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
    const agent = await call(app, '/approvals/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...ORIGIN },
      body: form({ key: KEYS.agent }),
    });
    expect(agent.status).toBe(303);
    expect(agent.headers.get('location')).toContain('flash=');
    expect(agent.headers.get('set-cookie')).toBeNull();
  });
});

describe('the page and the API refuse the same decision bodies', () => {
  const bad: Array<[string, Record<string, string>]> = [
    ['no decision', { reason: 'x' }],
    ['an unknown decision', { decision: 'maybe' }],
    ['a rejection without a reason', { decision: 'reject' }],
    ['a reason of 2001 characters', { decision: 'approve', reason: 'r'.repeat(2001) }],
    ['a NUL in the reason', { decision: 'reject', reason: 'no\u0000' }],
  ];

  it.each(bad)('%s', async (_, fields) => {
    const id = await gated();
    const api = await call(app, `/v1/approvals/${id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('approver') },
      body: JSON.stringify(fields),
    });
    expect(api.status).toBe(400);
    const cookie = await signIn();
    const { html } = await page(cookie);
    const viaPage = await pageDecide(id, cookie, { ...fields, csrf: csrfOf(html) });
    expect(viaPage.status).toBe(400);
    const view = (await (await call(app, `/v1/approvals/${id}`, { headers: bearer('agent') })).json()) as {
      status: string;
    };
    expect(view.status).toBe('pending');
  });

  it('a good body decides through the page as through the API', async () => {
    const id = await gated();
    const cookie = await signIn();
    const { html } = await page(cookie);
    const res = await pageDecide(id, cookie, { decision: 'approve', reason: 'fine', csrf: csrfOf(html) });
    expect(res.status).toBe(303);
    const detail = await page(cookie, undefined, `/approvals/${id}`);
    expect(detail.html).toContain(`data-detail="${id}"`);
    expect(detail.html).toMatch(/<td>decision<\/td><td>approved<\/td><td>approver-1<\/td>/);
  });
});

describe('what a session stores', () => {
  it('the digests of the session id and the key, never either of them', async () => {
    const cookie = await signIn();
    const id = decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!;
    const rows = await adminSql<{ id_hash: string; key_hash: string; principal: string }>(
      'select id_hash, key_hash, principal from auth.approval_sessions where id_hash = $1',
      [await sha256Hex(id)],
    );
    expect(rows).toEqual([
      { id_hash: await sha256Hex(id), key_hash: await sha256Hex(KEYS.approver), principal: 'approver-1' },
    ]);
    const all = await adminSql<{ text: string }>(
      "select string_agg(to_jsonb(s)::text, ' ') as text from auth.approval_sessions s",
    );
    expect(all[0]!.text).not.toContain(id);
    expect(all[0]!.text).not.toContain(KEYS.approver);
  });
});
