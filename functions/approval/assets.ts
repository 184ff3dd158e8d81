/**
 * The approvals page's only stylesheet and script, served from /approvals/assets/ so the CSP can
 * forbid every inline script and style ('self' only). The script is progressive: without it the
 * page works by reloads; with it the pending list refreshes itself every few seconds (a short
 * poll of /approvals/pending, server-rendered and escaped there), adding new cards and removing
 * decided ones while leaving cards being worked on (a half-typed reason) alone.
 */
export const PAGE_CSS = `body{font:15px/1.45 system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f5f5f5;padding:.5rem;overflow:auto;max-height:16rem}
.card{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}
.meta{color:#555}.flash{background:#fff6d6;padding:.5rem 1rem;border-radius:4px}
.who{font-weight:600}.declared{color:#777;font-style:italic}.risk{background:#fdecea;padding:.3rem .6rem;border-radius:4px}
textarea{width:100%;min-height:3rem}button{margin-right:.5rem;padding:.4rem 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.3rem;text-align:left;vertical-align:top}
header{display:flex;justify-content:space-between;align-items:center}form.filters{margin:1rem 0}`;

export const PAGE_JS = `(() => {
  const list = document.querySelector('[data-pending-list]');
  if (!list) return;
  const source = list.getAttribute('data-poll');
  const count = document.querySelector('[data-pending-count]');
  async function refresh() {
    let res;
    try {
      res = await fetch(source, { credentials: 'same-origin', headers: { accept: 'text/html' } });
    } catch {
      return;
    }
    if (res.status === 401) { location.reload(); return; }
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const fresh = [...doc.querySelectorAll('[data-approval]')];
    const ids = new Set(fresh.map((el) => el.getAttribute('data-approval')));
    for (const card of [...list.querySelectorAll('[data-approval]')]) {
      if (!ids.has(card.getAttribute('data-approval'))) card.remove();
    }
    let previous = null;
    for (const el of fresh) {
      const id = el.getAttribute('data-approval');
      const existing = list.querySelector('[data-approval="' + CSS.escape(id) + '"]');
      const node = existing ?? document.importNode(el, true);
      if (!existing) {
        if (previous) previous.after(node); else list.prepend(node);
      }
      previous = node;
    }
    const empty = list.querySelector('[data-empty]');
    if (empty) empty.hidden = fresh.length > 0;
    if (count) count.textContent = String(fresh.length);
  }
  setInterval(refresh, Number(list.getAttribute('data-interval') || 3000));
})();`;
