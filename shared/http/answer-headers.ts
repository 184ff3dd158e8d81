import type { Context } from 'hono';

/**
 * The headers ours puts on a request's answer, kept in one plain object until the answer is made
 * (issue #23). On workerd every `Headers.set` is a call into the runtime: a chat answer's 14
 * headers set one by one (hono's `c.header`, then the correlation pair on the Response) cost ~30 %
 * more than the same 14 given to `new Response` as one init object (bench/README.md, session 9:
 * 138k against 114k instructions). So the writers of a guarded route (the rate limiter, the
 * router's and the budgets' headers, the cache's) write here, and the route's answer is made from
 * the bag in one `new Response` (`answerWith`). Every other answer of the request (onError's, a
 * stream's, a cache hit's) gets them from correlation, which sets the bag on whatever response
 * came back, as it always set its ids (none of the bag's names is one an error sets itself).
 *
 * The bag takes writes only once `openAnswerHeaders` ran (guard: its routes' answers are all made
 * by hono's `c.*` or `answerWith`); elsewhere `answerHeader` is `c.header`, so a Response made
 * in-process and returned as is (MCP's) keeps getting only what hono gives it. A guarded route
 * must not `c.header` before `answerWith`: hono's own prepared headers are not in the bag.
 */
export interface AnswerHeaders {
  readonly headers: Record<string, string>;
  /** Writers other than correlation write here (else through `c.header`). */
  open: boolean;
  /** Put on a response already: later writes go through `c.header`. */
  sent: boolean;
}

declare module 'hono' {
  interface ContextVariableMap {
    answerHeaders: AnswerHeaders;
  }
}

/** correlation: the request's bag, holding its ids, closed to other writers until a guard opens it. */
export function startAnswerHeaders(c: Context, headers: Record<string, string>): AnswerHeaders {
  const bag: AnswerHeaders = { headers, open: false, sent: false };
  c.set('answerHeaders', bag);
  return bag;
}

/** guard: this route's writers may use the bag (a request without correlation's has none). */
export function openAnswerHeaders(c: Context): void {
  const bag = c.get('answerHeaders');
  if (bag) bag.open = true;
}

/** A header for the answer: into the open bag, else `c.header` as before. */
export function answerHeader(c: Context, name: string, value: string): void {
  const bag = c.get('answerHeaders');
  if (bag?.open && !bag.sent) bag.headers[name] = value;
  else c.header(name, value);
}

/**
 * A 200 answer of `body` with the bag's headers and `contentType`, in one `new Response`. Without
 * an open bag, `c.body` as before (the headers are hono's then).
 */
export function answerWith(c: Context, body: string, contentType: string): Response {
  const bag = c.get('answerHeaders');
  if (!bag?.open || bag.sent) return c.body(body, 200, { 'content-type': contentType });
  bag.sent = true;
  bag.headers['content-type'] = contentType;
  return new Response(body, { status: 200, headers: bag.headers });
}
