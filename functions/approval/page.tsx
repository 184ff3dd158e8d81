import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { FC, PropsWithChildren } from 'hono/jsx';
import * as z from 'zod';
import {
  announceDecision,
  decideApproval,
  listApprovals,
  notifierFor,
} from '../../shared/approvals/index.ts';
import { csrfToken, equal, readSession, signSession } from '../../shared/approvals/session.ts';
import type { Principal } from '../../shared/auth/api-keys.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError } from '../../shared/errors/index.ts';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { resolveApiKey } from '../../shared/middleware/auth/index.ts';

/**
 * The approvals page: server-rendered HTML, no JavaScript. Login with an approver's API key
 * gives a signed, HttpOnly, SameSite=Strict session cookie; every form carries a CSRF token
 * bound to that session. Inputs are untrusted and only ever rendered as escaped text.
 */
export const approvalsPage = new Hono<AppEnv>();

const COOKIE = 'mas_approvals_session';
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

approvalsPage.use('/approvals', secureHeaders);
approvalsPage.use('/approvals/*', secureHeaders);

async function secureHeaders(c: Context<AppEnv>, next: () => Promise<void>) {
  await next();
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
  c.header('cache-control', 'no-store');
}

function secretOf(c: Context<AppEnv>): string {
  const secret = getSettings(c.env).APPROVAL_SECRET;
  if (!secret)
    throw new AppError(
      503,
      'approvals_page_unconfigured',
      'APPROVAL_SECRET is not set; the approvals page is off.',
    );
  return secret;
}

async function sessionOf(c: Context<AppEnv>): Promise<{ principal: Principal; token: string } | null> {
  const token = getCookie(c, COOKIE);
  const principal = await readSession(secretOf(c), token);
  return principal && token ? { principal, token } : null;
}

const Layout: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title}</title>
      <style>{`body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f5f5f5;padding:.5rem;overflow:auto;max-height:16rem}
.card{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}
.meta{color:#555}.flash{background:#fff6d6;padding:.5rem 1rem;border-radius:4px}
textarea{width:100%;min-height:3rem}button{margin-right:.5rem;padding:.4rem 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.3rem;text-align:left}`}</style>
    </head>
    <body>{children}</body>
  </html>
);

const ago = (at: Date | string) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(at).getTime()) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

approvalsPage.get('/approvals', async (c) => {
  const session = await sessionOf(c);
  const flash = c.req.query('flash');
  if (!session) {
    return c.html(
      <Layout title="Approvals: sign in">
        <h1>Approvals</h1>
        {flash ? <p class="flash">{flash}</p> : null}
        <form method="post" action="/approvals/login">
          <label>
            Approver API key <input type="password" name="key" autocomplete="off" required />
          </label>{' '}
          <button type="submit">Sign in</button>
        </form>
      </Layout>,
    );
  }
  const settings = getSettings(c.env);
  const [pending, approved, rejected] = await withPostgres(settings, async (client) => [
    (await listApprovals(client, { status: 'pending', limit: 100 }, session.principal)).data,
    (await listApprovals(client, { status: 'approved', limit: 10 }, session.principal)).data,
    (await listApprovals(client, { status: 'rejected', limit: 10 }, session.principal)).data,
  ]);
  const decided = [...approved, ...rejected].sort(
    (a, b) => +new Date(b.decided_at ?? 0) - +new Date(a.decided_at ?? 0),
  );
  const csrf = await csrfToken(secretOf(c), session.token);
  return c.html(
    <Layout title={`Approvals (${pending.length} pending)`}>
      <form method="post" action="/approvals/logout" style="float:right">
        <input type="hidden" name="csrf" value={csrf} />
        <span class="meta">{session.principal.id}</span> <button type="submit">Sign out</button>
      </form>
      <h1>Pending approvals</h1>
      {flash ? <p class="flash">{flash}</p> : null}
      {pending.length === 0 ? <p>Nothing waits for a decision.</p> : null}
      {pending.map((a) => (
        <section class="card" data-approval={a.id}>
          <h2>
            {a.agent_name ?? a.agent_id}: {a.action_type}
          </h2>
          <p class="meta">
            category <b>{a.category}</b>
            {a.tool_name ? ` · tool ${a.tool_name}` : ''} · agent {a.agent_id} · asked {ago(a.created_at)} ago
            · expires in {Math.max(0, Math.round((new Date(a.expires_at).getTime() - Date.now()) / 60000))}{' '}
            min · approvals {a.approvals}/{a.quorum}
          </p>
          <pre>{JSON.stringify(a.inputs, null, 2)}</pre>
          <form method="post" action={`/approvals/${a.id}/decide`}>
            <input type="hidden" name="csrf" value={csrf} />
            <label>
              Reason <textarea name="reason" />
            </label>
            <button type="submit" name="decision" value="approve">
              Approve
            </button>
            <button type="submit" name="decision" value="reject">
              Reject
            </button>
          </form>
        </section>
      ))}
      <h2>Recent decisions</h2>
      <table>
        <tr>
          <th>decided</th>
          <th>action</th>
          <th>status</th>
          <th>by</th>
          <th>reason</th>
        </tr>
        {decided.map((a) => (
          <tr data-decided={a.id}>
            <td>{a.decided_at ? `${ago(a.decided_at)} ago` : ''}</td>
            <td>
              {a.agent_id}: {a.action_type}
            </td>
            <td>{a.status}</td>
            <td>{a.decided_by}</td>
            <td>{a.reason}</td>
          </tr>
        ))}
      </table>
    </Layout>,
  );
});

approvalsPage.post('/approvals/login', async (c) => {
  const form = await c.req.parseBody();
  const key = typeof form.key === 'string' ? form.key.trim() : '';
  const principal = key ? await resolveApiKey(getSettings(c.env), key) : null;
  if (!principal || (principal.role !== 'approver' && principal.role !== 'admin')) {
    return c.redirect(`/approvals?flash=${encodeURIComponent('That key is not an approver key.')}`, 303);
  }
  setCookie(c, COOKIE, await signSession(secretOf(c), principal), {
    httpOnly: true,
    sameSite: 'Strict',
    secure: new URL(c.req.url).protocol === 'https:',
    path: '/approvals',
    maxAge: 8 * 3600,
  });
  return c.redirect('/approvals', 303);
});

async function requireCsrf(
  c: Context<AppEnv>,
): Promise<{ principal: Principal; form: Record<string, unknown> }> {
  const session = await sessionOf(c);
  if (!session) throw new AppError(401, 'not_signed_in', 'Sign in at /approvals first.');
  const form = await c.req.parseBody();
  const expected = await csrfToken(secretOf(c), session.token);
  if (typeof form.csrf !== 'string' || !equal(form.csrf, expected)) {
    throw new AppError(403, 'csrf_failed', 'The form token is missing or wrong; reload the page.');
  }
  return { principal: session.principal, form };
}

approvalsPage.post('/approvals/logout', async (c) => {
  await requireCsrf(c);
  deleteCookie(c, COOKIE, { path: '/approvals' });
  return c.redirect('/approvals', 303);
});

approvalsPage.post('/approvals/:id/decide', async (c) => {
  const { principal, form } = await requireCsrf(c);
  const id = z.uuid().parse(c.req.param('id'));
  const decision =
    form.decision === 'approve' ? 'approve' : form.decision === 'reject' ? 'reject' : undefined;
  const reason = typeof form.reason === 'string' && form.reason.trim() ? form.reason.trim() : undefined;
  if (!decision)
    return c.redirect(`/approvals?flash=${encodeURIComponent('Choose approve or reject.')}`, 303);
  if (decision === 'reject' && !reason) {
    return c.redirect(`/approvals?flash=${encodeURIComponent('A rejection needs a reason.')}`, 303);
  }
  const settings = getSettings(c.env);
  const trace = c.get('trace');
  try {
    const result = await decideApproval(
      settings,
      id,
      { decision, reason },
      { principal, correlationId: trace.correlationId, traceId: trace.traceId },
    );
    announceDecision(notifierFor(c), result);
    return c.redirect(
      `/approvals?flash=${encodeURIComponent(`${result.agent_id} ${result.action_type}: ${result.status}.`)}`,
      303,
    );
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      return c.redirect(`/approvals?flash=${encodeURIComponent(err.message)}`, 303);
    }
    throw err;
  }
});
