import { type Context, Hono } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import type { FC, PropsWithChildren } from 'hono/jsx';
import { secureHeaders } from 'hono/secure-headers';
import * as z from 'zod/mini';
import {
  type ApprovalView,
  announceDecision,
  approvalHistory,
  decideApproval,
  decisionSchema,
  listApprovals,
  notifierFor,
} from '../../shared/approvals/index.ts';
import {
  createSession,
  csrfToken,
  type PageSession,
  readSession,
  revokeSession,
  SESSION_TTL_SECONDS,
} from '../../shared/approvals/sessions.ts';
import { constantTimeEqual } from '../../shared/crypto/constant-time.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError } from '../../shared/errors/index.ts';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { authenticate } from '../../shared/middleware/auth/index.ts';
import { CATEGORY_ORDER } from '../../shared/registry/index.ts';
import { PAGE_CSS, PAGE_JS } from './assets.ts';
import { usageView } from './usage-view.tsx';

/**
 * The approvals page: server-rendered HTML; one same-origin script refreshes the pending list
 * (a short poll), and everything works without it. Sign-in with an approver's API key starts a
 * server-side session (auth.approval_sessions) carried by a signed, HttpOnly, SameSite=Strict
 * cookie (Hono's signed cookies); every request re-resolves the session's key, so revocation
 * reaches the page, and logout ends the session on the server. Form posts pass Hono's CSRF
 * origin check (login included) and, once signed in, carry a token bound to the session.
 * Security headers come from Hono's secure-headers with a CSP that allows no inline script or
 * style. Agent-supplied values are untrusted and only ever rendered as escaped text.
 */
export const approvalsPage = new Hono<AppEnv>();

const COOKIE = 'mas_approvals_session';
const headers = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    connectSrc: ["'self'"],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  referrerPolicy: 'no-referrer',
  xFrameOptions: 'DENY',
  crossOriginResourcePolicy: 'same-origin',
  crossOriginOpenerPolicy: 'same-origin',
});

approvalsPage.use('/approvals', headers, noStore);
approvalsPage.use('/approvals/*', headers, noStore);
// Login CSRF included: a cross-site form post (Origin or Sec-Fetch-Site not ours) is refused,
// in the API's error shape (hono/csrf itself answers a bare "Forbidden").
const sameOrigin = csrf();
approvalsPage.use('/approvals/*', async (c, next) => {
  let passed = false;
  try {
    await sameOrigin(c, async () => {
      passed = true;
    });
  } catch {
    // refused below
  }
  if (!passed) {
    throw new AppError(
      403,
      'csrf_failed',
      'Cross-site form posts are refused; use the approvals page itself.',
    );
  }
  await next();
});

async function noStore(c: Context<AppEnv>, next: () => Promise<void>) {
  await next();
  if (!c.req.path.startsWith('/approvals/assets/')) c.header('cache-control', 'no-store');
}

approvalsPage.get('/approvals/assets/page.css', (c) =>
  c.body(PAGE_CSS, 200, {
    'content-type': 'text/css; charset=utf-8',
    'cache-control': 'public, max-age=300',
  }),
);
approvalsPage.get('/approvals/assets/page.js', (c) =>
  c.body(PAGE_JS, 200, {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': 'public, max-age=300',
  }),
);

function secretOf(c: Context<AppEnv>): string {
  const secret = getSettings(c.env).APPROVAL_SECRET;
  if (!secret) {
    throw new AppError(
      503,
      'approvals_page_unconfigured',
      'APPROVAL_SECRET is not set; the approvals page is off.',
    );
  }
  return secret;
}

/** The signed-in approver, re-resolved from the session's key on this request, or null. */
async function sessionOf(c: Context<AppEnv>): Promise<PageSession | null> {
  // A cookie that is not exactly `<id>.<signature>` (extra segments, a bad signature) is no session.
  const id = await getSignedCookie(c, secretOf(c), COOKIE);
  return typeof id === 'string' ? readSession(getSettings(c.env), id) : null;
}

const Layout: FC<PropsWithChildren<{ title: string; script?: boolean }>> = ({ title, children, script }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title}</title>
      <link rel="stylesheet" href="/approvals/assets/page.css" />
      {script ? <script src="/approvals/assets/page.js" defer /> : null}
    </head>
    <body>{children}</body>
  </html>
);

const ago = (at: Date | string) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(at).getTime()) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};
const left = (seconds: number) =>
  seconds < 60
    ? `${seconds} s`
    : seconds < 3600
      ? `${Math.round(seconds / 60)} min`
      : `${Math.round(seconds / 3600)} h`;

/** Who asks: the authenticated principal and the agent it acts as first; the agent's own name only as such. */
const Requester: FC<{ a: ApprovalView }> = ({ a }) => (
  <p>
    <span class="who" data-principal>
      {a.principal ?? a.requested_by}
    </span>
    {a.agent_id !== a.principal ? (
      <>
        {' '}
        acting as <span class="who">{a.agent_id}</span>
      </>
    ) : null}
    {a.agent_name ? <span class="declared"> · calls itself “{a.agent_name}”</span> : null}
  </p>
);

const Facts: FC<{ a: ApprovalView }> = ({ a }) => (
  <>
    <p class="meta">
      category <b>{a.category}</b>
      {a.claimed_category && a.claimed_category !== a.category
        ? ` (agent claimed ${a.claimed_category})`
        : ''}
      {a.tool_name ? ` · tool ${a.tool_name}` : ''} · rule {a.policy_rule ?? 'n/a'} · asked{' '}
      {ago(a.created_at)} ago ·{' '}
      {a.status === 'pending' ? `expires in ${left(a.expires_in_seconds)}` : a.status} · approvals{' '}
      {a.approvals}/{a.quorum}
      {a.escalated ? ' · escalated' : ''}
    </p>
    {a.risk ? <p class="risk">Risk: {a.risk}</p> : null}
    {a.justification ? (
      <p>
        Agent’s justification: <q>{a.justification}</q>
      </p>
    ) : null}
  </>
);

const DecideForm: FC<{ id: string; csrf: string }> = ({ id, csrf: token }) => (
  <form method="post" action={`/approvals/${id}/decide`}>
    <input type="hidden" name="csrf" value={token} />
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
);

const Card: FC<{ a: ApprovalView & { inputs?: unknown }; csrf: string }> = ({ a, csrf: token }) => (
  <section class="card" data-approval={a.id}>
    <h2>
      <a href={`/approvals/${a.id}`}>{a.action_type}</a>
    </h2>
    <Requester a={a} />
    <Facts a={a} />
    <pre>{JSON.stringify(a.inputs, null, 2)}</pre>
    <DecideForm id={a.id} csrf={token} />
  </section>
);

/**
 * A filter that is too long is dropped rather than refused: the page still renders. (A plain
 * check: zod/mini's `catch` brings in the whole of zod's util module, ~9 KiB minified.)
 */
const upTo = (value: string | undefined, max: number) => (value && value.length <= max ? value : undefined);

function filtersOf(c: Context<AppEnv>) {
  const q = c.req.query();
  return { category: upTo(q.category, 64), agent_id: upTo(q.agent_id, 128) };
}

function queryOf(f: { category?: string; agent_id?: string }): string {
  const q = new URLSearchParams();
  if (f.category) q.set('category', f.category);
  if (f.agent_id) q.set('agent_id', f.agent_id);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const SignIn: FC<{ flash?: string }> = ({ flash }) => (
  <Layout title="Approvals: sign in">
    <h1>Approvals</h1>
    {flash ? <p class="flash">{flash}</p> : null}
    <form method="post" action="/approvals/login">
      <label>
        Approver API key <input type="password" name="key" autocomplete="off" required />
      </label>{' '}
      <button type="submit">Sign in</button>
    </form>
  </Layout>
);

approvalsPage.get('/approvals', async (c) => {
  const session = await sessionOf(c);
  const flash = c.req.query('flash');
  if (!session) return c.html(<SignIn flash={flash} />);
  const filters = filtersOf(c);
  const settings = getSettings(c.env);
  const [pending, approved, rejected] = await withPostgres(settings, async (client) => [
    (await listApprovals(client, { status: 'pending', limit: 100, ...filters }, session.principal)).data,
    (await listApprovals(client, { status: 'approved', limit: 10, ...filters }, session.principal)).data,
    (await listApprovals(client, { status: 'rejected', limit: 10, ...filters }, session.principal)).data,
  ]);
  const decided = [...approved, ...rejected].sort(
    (a, b) => +new Date(b.decided_at ?? 0) - +new Date(a.decided_at ?? 0),
  );
  const token = await csrfToken(secretOf(c), session.id);
  return c.html(
    <Layout title="Approvals" script>
      <header>
        <h1>
          Pending approvals (<span data-pending-count>{pending.length}</span>)
        </h1>
        <form method="post" action="/approvals/logout">
          <input type="hidden" name="csrf" value={token} />
          signed in as{' '}
          <span class="who" data-signed-in>
            {session.principal.id}
          </span>{' '}
          ({session.principal.role}) <button type="submit">Sign out</button>
          {session.principal.role === 'admin' ? (
            <>
              {' '}
              · <a href="/approvals/usage">Usage</a>
            </>
          ) : null}
        </form>
      </header>
      {flash ? <p class="flash">{flash}</p> : null}
      <form class="filters" method="get" action="/approvals">
        <label>
          category{' '}
          <select name="category">
            <option value="">any</option>
            {CATEGORY_ORDER.map((cat) => (
              <option value={cat} selected={filters.category === cat}>
                {cat}
              </option>
            ))}
          </select>
        </label>{' '}
        <label>
          agent <input name="agent_id" value={filters.agent_id ?? ''} maxlength={128} />
        </label>{' '}
        <button type="submit">Filter</button>
      </form>
      <div data-pending-list data-poll={`/approvals/pending${queryOf(filters)}`} data-interval="3000">
        {pending.map((a) => (
          <Card a={a} csrf={token} />
        ))}
        <p data-empty hidden={pending.length > 0}>
          Nothing waits for a decision.
        </p>
      </div>
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
              <a href={`/approvals/${a.id}`}>
                {a.principal}
                {a.agent_id !== a.principal ? ` as ${a.agent_id}` : ''}: {a.action_type}
              </a>
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

/** The pending cards alone, for the page's poll. */
approvalsPage.get('/approvals/pending', async (c) => {
  const session = await sessionOf(c);
  if (!session) return c.text('Sign in at /approvals first.', 401);
  const { data } = await withPostgres(getSettings(c.env), (client) =>
    listApprovals(client, { status: 'pending', limit: 100, ...filtersOf(c) }, session.principal),
  );
  const token = await csrfToken(secretOf(c), session.id);
  return c.html(
    <div>
      {data.map((a) => (
        <Card a={a} csrf={token} />
      ))}
    </div>,
  );
});

approvalsPage.post('/approvals/login', async (c) => {
  const form = await c.req.parseBody();
  const key = typeof form.key === 'string' ? form.key.trim() : '';
  const settings = getSettings(c.env);
  // As the API does: a client over its failed-authentication limit is 429 before the key is
  // looked at, and a malformed key is refused without a digest or a query.
  const found = await authenticate(c, key);
  const principal = found?.principal;
  if (!found || !principal || (principal.role !== 'approver' && principal.role !== 'admin')) {
    return c.redirect(`/approvals?flash=${encodeURIComponent('That key is not an approver key.')}`, 303);
  }
  const id = await createSession(settings, principal, found.hash);
  await setSignedCookie(c, COOKIE, id, secretOf(c), {
    httpOnly: true,
    sameSite: 'Strict',
    secure: new URL(c.req.url).protocol === 'https:',
    path: '/approvals',
    maxAge: SESSION_TTL_SECONDS,
  });
  return c.redirect('/approvals', 303);
});

async function requireSession(
  c: Context<AppEnv>,
): Promise<{ session: PageSession; form: Record<string, unknown> }> {
  const session = await sessionOf(c);
  if (!session) throw new AppError(401, 'not_signed_in', 'Sign in at /approvals first.');
  const form = await c.req.parseBody();
  const expected = await csrfToken(secretOf(c), session.id);
  if (typeof form.csrf !== 'string' || !constantTimeEqual(form.csrf, expected)) {
    throw new AppError(403, 'csrf_failed', 'The form token is missing or wrong; reload the page.');
  }
  return { session, form };
}

approvalsPage.post('/approvals/logout', async (c) => {
  const { session } = await requireSession(c);
  await revokeSession(getSettings(c.env), session.id);
  deleteCookie(c, COOKIE, { path: '/approvals' });
  return c.redirect('/approvals', 303);
});

const approvalId = z.uuid({ message: 'must be an approval id (uuid)' });

// Before /approvals/:id, which would take `usage` for an id.
approvalsPage.get('/approvals/usage', async (c) => usageView(c, await sessionOf(c), Layout));

approvalsPage.get('/approvals/:id', async (c) => {
  const id = approvalId.parse(c.req.param('id'));
  const session = await sessionOf(c);
  if (!session) return c.html(<SignIn flash="Sign in to see this approval." />, 401);
  const { approval: a, entries } = await withPostgres(getSettings(c.env), (client) =>
    approvalHistory(client, id, session.principal),
  );
  const token = await csrfToken(secretOf(c), session.id);
  return c.html(
    <Layout title={`Approval ${a.id}`}>
      <p>
        <a href="/approvals">← all approvals</a> · signed in as{' '}
        <span class="who">{session.principal.id}</span>
      </p>
      <h1 data-detail={a.id}>
        {a.action_type}: {a.status}
      </h1>
      <Requester a={a} />
      <Facts a={a} />
      <pre>{JSON.stringify((a as { inputs?: unknown }).inputs, null, 2)}</pre>
      {a.status === 'pending' ? <DecideForm id={a.id} csrf={token} /> : null}
      <h2>Ledger history</h2>
      <table data-history>
        <tr>
          <th>seq</th>
          <th>when</th>
          <th>entry</th>
          <th>status</th>
          <th>by</th>
          <th>detail</th>
        </tr>
        {entries.map((e) => (
          <tr>
            <td>{e.seq}</td>
            <td>{new Date(e.created_at).toISOString()}</td>
            <td>{e.entry_type}</td>
            <td>{e.status}</td>
            <td>{e.principal}</td>
            <td>
              <code>{JSON.stringify(e.detail)}</code>
            </td>
          </tr>
        ))}
      </table>
    </Layout>,
  );
});

approvalsPage.post('/approvals/:id/decide', async (c) => {
  const { session, form } = await requireSession(c);
  const id = approvalId.parse(c.req.param('id'));
  // The API's decision schema, as is: the page refuses exactly the bodies the API refuses.
  const reason = typeof form.reason === 'string' && form.reason.trim() !== '' ? form.reason : undefined;
  const parsed = decisionSchema.safeParse({
    decision: form.decision,
    ...(reason === undefined ? {} : { reason }),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    c.status(400);
    return c.html(
      <Layout title="Approvals: not decided">
        <p class="flash" data-error>
          Not decided: {issue?.path.join('.') || 'decision'}: {issue?.message}
        </p>
        <p>
          <a href={`/approvals/${id}`}>Back to the approval</a>
        </p>
      </Layout>,
    );
  }
  const settings = getSettings(c.env);
  const trace = c.get('trace');
  try {
    const result = await decideApproval(settings, id, parsed.data, {
      principal: session.principal,
      correlationId: trace.correlationId,
      traceId: trace.traceId,
    });
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
