/**
 * Static checks of the Grafana dashboard's PromQL. Isolates push one Pushgateway group each
 * (label `instance`), so a query is right only if it aggregates `instance` away, and a quantile is
 * right only if the buckets are summed per `le`.
 */

/** Metric names the registry exposes: counters as named, histograms as _bucket/_sum/_count. */
export function exposedMetricNames(metrics: Array<{ name: string; type: string }>): Set<string> {
  const names = new Set<string>();
  for (const m of metrics) {
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    else names.add(m.name);
  }
  return names;
}

const AGGREGATIONS = [
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
];
const KEYWORDS = new Set([
  ...AGGREGATIONS,
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'histogram_quantile',
  'vector',
  'scalar',
  'time',
  'abs',
  'ceil',
  'floor',
  'round',
  'clamp_min',
  'clamp_max',
  'label_replace',
  'sum_over_time',
  'avg_over_time',
  'max_over_time',
  'min_over_time',
  'e',
  'inf',
  'nan',
]);

/** The expression without string literals, label matchers and range/subquery selectors. */
function skeleton(expr: string): string {
  return expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '');
}

/** Identifiers used as metric names (anything not a PromQL keyword, function or label list). */
export function referencedMetrics(expr: string): string[] {
  const s = skeleton(expr).replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names: string[] = [];
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const prev = s[m.index - 1];
    if (prev && /[0-9.]/.test(prev)) continue; // 1e6
    if (!KEYWORDS.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

/** The text between the parenthesis at `open` and its match. */
function parenBody(s: string, open: number): { body: string; end: number } {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return { body: s.slice(open + 1, i), end: i };
  }
  return { body: s.slice(open + 1), end: s.length };
}

interface Aggregation {
  op: string;
  mode: 'by' | 'without' | 'all';
  labels: string[];
  body: string;
}

/** Every aggregation with its grouping; `sum(x) by (l)` (grouping after) is read too. */
export function aggregations(expr: string): Aggregation[] {
  const s = skeleton(expr);
  const out: Aggregation[] = [];
  const re = new RegExp(`\\b(${AGGREGATIONS.join('|')})\\s*(by|without)?\\s*\\(`, 'g');
  for (const m of s.matchAll(re)) {
    const op = m[1]!;
    let mode: Aggregation['mode'] = (m[2] as 'by' | 'without' | undefined) ?? 'all';
    let labels: string[] = [];
    let cursor = m.index + m[0].length - 1;
    if (mode !== 'all') {
      const grouping = parenBody(s, cursor);
      labels = grouping.body
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean);
      cursor = s.indexOf('(', grouping.end + 1);
    }
    const { body, end } = parenBody(s, cursor);
    if (mode === 'all') {
      const after = /^\s*(by|without)\s*\(([^)]*)\)/.exec(s.slice(end + 1));
      if (after) {
        mode = after[1] as 'by' | 'without';
        labels = after[2]!
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean);
      }
    }
    out.push({ op, mode, labels, body });
  }
  return out;
}

/** Problems of one query: unknown metrics, `instance` kept, quantiles without `le`. */
export function queryProblems(expr: string, known: Set<string>): string[] {
  const problems: string[] = [];
  for (const name of referencedMetrics(expr))
    if (!known.has(name)) problems.push(`unknown metric ${name} (not in shared/metrics/registry.ts)`);

  const aggs = aggregations(expr);
  for (const a of aggs) {
    if (a.mode === 'by' && a.labels.includes('instance')) problems.push(`${a.op} by keeps instance`);
    if (a.mode === 'without' && !a.labels.includes('instance'))
      problems.push(`${a.op} without keeps instance`);
    if (/_bucket\b/.test(a.body)) {
      const keepsLe =
        a.mode === 'by' ? a.labels.includes('le') : a.mode === 'without' && !a.labels.includes('le');
      if (!keepsLe) problems.push(`${a.op} over buckets drops le`);
    }
  }

  const s = skeleton(expr);
  // A metric read raw, outside any aggregation, keeps one series per isolate.
  const outside = aggs.reduce((rest, a) => rest.replace(a.body, ''), s);
  for (const name of referencedMetrics(outside)) problems.push(`${name} is not aggregated over instance`);

  for (const m of s.matchAll(/\bhistogram_quantile\s*\(/g)) {
    const { body } = parenBody(s, m.index + m[0].length - 1);
    const arg = body.slice(body.indexOf(',') + 1).trim();
    if (!/_bucket\b/.test(arg)) problems.push('histogram_quantile over something other than _bucket');
    const first = aggregations(arg)[0];
    if (!first || !arg.startsWith(first.op)) problems.push('histogram_quantile without a sum by (le, ...)');
  }
  for (const m of s.matchAll(/\b\w+_bucket\b/g)) {
    const before = s.slice(0, m.index);
    if (!/histogram_quantile\s*\(/.test(before)) problems.push(`${m[0]} used outside histogram_quantile`);
  }
  return problems;
}

export interface DashboardTarget {
  panel: string;
  expr: string;
}

export function dashboardTargets(dashboard: {
  panels?: Array<{ title?: string; targets?: Array<{ expr?: string }>; panels?: unknown[] }>;
}): DashboardTarget[] {
  const out: DashboardTarget[] = [];
  for (const p of dashboard.panels ?? []) {
    for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '?', expr: t.expr });
  }
  return out;
}
