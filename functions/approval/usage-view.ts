import type { Context } from 'hono';
import { html } from 'hono/html';
import type { PageSession } from '../../shared/approvals/sessions.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { spendPerAgentPerDay } from '../../shared/governance/usage-query.ts';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { type Html, layout } from './views.ts';

const DAYS = 14;
const usd = (v: number) => `$${v.toFixed(v >= 1 ? 2 : 4)}`;

type SpendRow = Awaited<ReturnType<typeof spendPerAgentPerDay>>[number];

/**
 * `/approvals/usage`, for admins: spend per agent per UTC day over the last two weeks, as a
 * plain table and an inline SVG bar chart of the daily total (no script, no framework; the
 * page's CSP allows neither remote content nor inline script, and the chart needs neither).
 */
export async function usageView(c: Context<AppEnv>, session: PageSession | null): Promise<Response> {
  if (!session) return c.redirect('/approvals', 303);
  if (session.principal.role !== 'admin') return c.html(usageForbiddenPage(session), 403);
  const rows = await withPostgres(getSettings(c.env), (client) => spendPerAgentPerDay(client, DAYS));
  return c.html(usagePage(session, rows));
}

export const usageForbiddenPage = (session: PageSession): Html =>
  layout(
    'Usage',
    html`<p class="flash">Only admins see spend. You are signed in as ${session.principal.id}.</p><a href="/approvals">Back to approvals</a>`,
  );

export function usagePage(session: PageSession, rows: SpendRow[]): Html {
  const perDay = new Map<string, number>();
  for (const r of rows) perDay.set(r.day, (perDay.get(r.day) ?? 0) + r.cost_usd);
  const days = [...perDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const max = Math.max(0, ...days.map(([, v]) => v));
  const barW = 36;
  const height = 120;
  const width = days.length * barW + 20;
  const chart = days.length
    ? html`<svg role="img" aria-label="Daily spend" width="${width}" height="${height + 40}" viewBox="0 0 ${width} ${height + 40}">${days.map(
        ([day, value], i) => {
          const h = max > 0 ? Math.max(1, Math.round((value / max) * height)) : 1;
          return html`<g><rect x="${10 + i * barW}" y="${10 + height - h}" width="${barW - 8}" height="${h}" fill="#4a7bd0"><title>${`${day}: ${usd(value)}`}</title></rect><text x="${10 + i * barW}" y="${height + 28}" font-size="9">${day.slice(5)}</text></g>`;
        },
      )}</svg>`
    : html`<p>No LLM calls recorded in this period.</p>`;
  return layout(
    'Usage',
    html`<header><h1>Spend per agent per day</h1><nav><a href="/approvals">Approvals</a> · signed in as <span class="who">${session.principal.id}</span></nav></header><p class="meta">Last ${DAYS} days (UTC), from the usage rows (GET /v1/usage for the API). Models without a price count as $0.</p>${chart}<table data-usage="true"><tr><th>day</th><th>agent</th><th>requests</th><th>spend</th></tr>${rows.map(
      (r) =>
        html`<tr><td>${r.day}</td><td>${r.agent}</td><td>${r.requests}</td><td>${usd(r.cost_usd)}</td></tr>`,
    )}</table>`,
  );
}
