import type { Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { secureHeaders } from 'hono/secure-headers';
import * as z from 'zod/mini';
import {
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
import { routeTable } from '../../shared/http/route-table.ts';
import { authenticate } from '../../shared/middleware/auth/index.ts';
import { PAGE_CSS, PAGE_JS } from './assets.ts';
import { usageView } from './usage-view.ts';
import { detailPage, listPage, notDecidedPage, pendingCards, signInPage } from './views.ts';

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
export const approvalsPage = routeTable<AppEnv>();

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

approvalsPage.get('/approvals', async (c) => {
  const session = await sessionOf(c);
  const flash = c.req.query('flash');
  if (!session) return c.html(signInPage(flash));
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
    listPage({
      session,
      flash,
      filters,
      poll: `/approvals/pending${queryOf(filters)}`,
      pending,
      decided,
      token,
    }),
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
  return c.html(pendingCards(data, token));
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
approvalsPage.get('/approvals/usage', async (c) => usageView(c, await sessionOf(c)));

approvalsPage.get('/approvals/:id', async (c) => {
  const id = approvalId.parse(c.req.param('id'));
  const session = await sessionOf(c);
  if (!session) return c.html(signInPage('Sign in to see this approval.'), 401);
  const { approval: a, entries } = await withPostgres(getSettings(c.env), (client) =>
    approvalHistory(client, id, session.principal),
  );
  const token = await csrfToken(secretOf(c), session.id);
  return c.html(detailPage(session, a, entries, token));
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
    return c.html(notDecidedPage(id, issue?.path.join('.') || 'decision', issue?.message));
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
