import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { ApprovalView } from '../../shared/approvals/index.ts';
import type { PageSession } from '../../shared/approvals/sessions.ts';
import { CATEGORY_ORDER } from '../../shared/registry/index.ts';

/**
 * The approvals page's HTML, as `hono/html` templates: every interpolated value is escaped text
 * unless it is itself a template, so agent-supplied values only ever render as text. (Templates
 * rather than hono/jsx: the JSX runtime was ~4 KiB gzip of the approval bundle.)
 */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
type Approval = ApprovalView & { inputs?: unknown };

export interface Filters {
  category?: string;
  agent_id?: string;
}

export const layout = (title: string, body: Html, script = false): Html =>
  html`<html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>${title}</title><link rel="stylesheet" href="/approvals/assets/page.css"/>${script ? html`<script src="/approvals/assets/page.js" defer=""></script>` : null}</head><body>${body}</body></html>`;

const flashOf = (flash: string | undefined) => (flash ? html`<p class="flash">${flash}</p>` : null);

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
const requester = (a: ApprovalView) =>
  html`<p><span class="who" data-principal="true">${a.principal ?? a.requested_by}</span>${
    a.agent_id !== a.principal ? html` acting as <span class="who">${a.agent_id}</span>` : null
  }${a.agent_name ? html`<span class="declared"> · calls itself “${a.agent_name}”</span>` : null}</p>`;

const facts = (a: ApprovalView) =>
  html`<p class="meta">category <b>${a.category}</b>${
    a.claimed_category && a.claimed_category !== a.category ? ` (agent claimed ${a.claimed_category})` : ''
  }${a.tool_name ? ` · tool ${a.tool_name}` : ''} · rule ${a.policy_rule ?? 'n/a'} · asked ${ago(a.created_at)} ago · ${
    a.status === 'pending' ? `expires in ${left(a.expires_in_seconds)}` : a.status
  } · approvals ${a.approvals}/${a.quorum}${a.escalated ? ' · escalated' : ''}</p>${
    a.risk ? html`<p class="risk">Risk: ${a.risk}</p>` : null
  }${a.justification ? html`<p>Agent’s justification: <q>${a.justification}</q></p>` : null}`;

const decideForm = (id: string, token: string) =>
  html`<form method="post" action="/approvals/${id}/decide"><input type="hidden" name="csrf" value="${token}"/><label>Reason <textarea name="reason"></textarea></label><button type="submit" name="decision" value="approve">Approve</button><button type="submit" name="decision" value="reject">Reject</button></form>`;

const card = (a: Approval, token: string) =>
  html`<section class="card" data-approval="${a.id}"><h2><a href="/approvals/${a.id}">${a.action_type}</a></h2>${requester(a)}${facts(a)}<pre>${JSON.stringify(a.inputs, null, 2)}</pre>${decideForm(a.id, token)}</section>`;

export const signInPage = (flash?: string) =>
  layout(
    'Approvals: sign in',
    html`<h1>Approvals</h1>${flashOf(flash)}<form method="post" action="/approvals/login"><label>Approver API key <input type="password" name="key" autocomplete="off" required=""/></label> <button type="submit">Sign in</button></form>`,
  );

/** The pending cards alone, for the page's poll. */
export const pendingCards = (data: Approval[], token: string) =>
  html`<div>${data.map((a) => card(a, token))}</div>`;

export function listPage(o: {
  session: PageSession;
  flash?: string;
  filters: Filters;
  poll: string;
  pending: Approval[];
  decided: ApprovalView[];
  token: string;
}): Html {
  const { session, filters, pending, token } = o;
  return layout(
    'Approvals',
    html`<header><h1>Pending approvals (<span data-pending-count="true">${pending.length}</span>)</h1><form method="post" action="/approvals/logout"><input type="hidden" name="csrf" value="${token}"/>signed in as <span class="who" data-signed-in="true">${session.principal.id}</span> (${session.principal.role}) <button type="submit">Sign out</button>${
      session.principal.role === 'admin' ? html` · <a href="/approvals/usage">Usage</a>` : null
    }</form></header>${flashOf(o.flash)}<form class="filters" method="get" action="/approvals"><label>category <select name="category"><option value="">any</option>${CATEGORY_ORDER.map(
      (cat) =>
        html`<option value="${cat}"${filters.category === cat ? html` selected=""` : null}>${cat}</option>`,
    )}</select></label> <label>agent <input name="agent_id" value="${filters.agent_id ?? ''}" maxlength="128"/></label> <button type="submit">Filter</button></form><div data-pending-list="true" data-poll="${o.poll}" data-interval="3000">${pending.map(
      (a) => card(a, token),
    )}<p data-empty="true"${pending.length > 0 ? html` hidden=""` : null}>Nothing waits for a decision.</p></div><h2>Recent decisions</h2><table><tr><th>decided</th><th>action</th><th>status</th><th>by</th><th>reason</th></tr>${o.decided.map(
      (a) =>
        html`<tr data-decided="${a.id}"><td>${a.decided_at ? `${ago(a.decided_at)} ago` : ''}</td><td><a href="/approvals/${a.id}">${a.principal}${
          a.agent_id !== a.principal ? ` as ${a.agent_id}` : ''
        }: ${a.action_type}</a></td><td>${a.status}</td><td>${a.decided_by}</td><td>${a.reason}</td></tr>`,
    )}</table>`,
    true,
  );
}

export interface HistoryEntry {
  seq: number;
  created_at: Date;
  entry_type: string;
  status: string;
  principal: string | null;
  detail: Record<string, unknown> | null;
}

export const detailPage = (session: PageSession, a: Approval, entries: HistoryEntry[], token: string) =>
  layout(
    `Approval ${a.id}`,
    html`<p><a href="/approvals">← all approvals</a> · signed in as <span class="who">${session.principal.id}</span></p><h1 data-detail="${a.id}">${a.action_type}: ${a.status}</h1>${requester(a)}${facts(a)}<pre>${JSON.stringify(a.inputs, null, 2)}</pre>${
      a.status === 'pending' ? decideForm(a.id, token) : null
    }<h2>Ledger history</h2><table data-history="true"><tr><th>seq</th><th>when</th><th>entry</th><th>status</th><th>by</th><th>detail</th></tr>${entries.map(
      (e) =>
        html`<tr><td>${e.seq}</td><td>${new Date(e.created_at).toISOString()}</td><td>${e.entry_type}</td><td>${e.status}</td><td>${e.principal}</td><td><code>${JSON.stringify(e.detail)}</code></td></tr>`,
    )}</table>`,
  );

export const notDecidedPage = (id: string, field: string, message: string | undefined) =>
  layout(
    'Approvals: not decided',
    html`<p class="flash" data-error="true">Not decided: ${field}: ${message}</p><p><a href="/approvals/${id}">Back to the approval</a></p>`,
  );
