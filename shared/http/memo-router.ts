import type { Result, Router } from 'hono/router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { SmartRouter } from 'hono/router/smart-router';
import { TrieRouter } from 'hono/router/trie-router';

/** Distinct method+path answers remembered at once (then forgotten all together), and up to what path length. */
const MAX_PATHS = 1024;
const MAX_PATH_LENGTH = 256;

/**
 * Hono's default router (RegExpRouter when the routes fit it, else TrieRouter), with
 * TrieRouter's answers remembered per method and path. RegExpRouter cannot hold a static path
 * beside a parameter at the same place (`/approvals/pending` and `/approvals/:id`), so the
 * approval function and the combined deployment route with TrieRouter, which walks its tree on
 * every request: ~4 µs per match of `/v1/chat/completions` over all the functions' routes, against
 * ~30 ns for RegExpRouter's lookup. A match depends only on method and path, and nothing reads
 * a result to change it (hono reads the handlers and params; each request decodes its own copy),
 * so one answer serves every request for that path. Bounded: a flood of distinct paths only makes
 * it walk the tree again.
 */
export class MemoRouter<T> implements Router<T> {
  name = 'MemoRouter';
  readonly #inner = new SmartRouter<T>({ routers: [new RegExpRouter(), new TrieRouter()] });
  readonly #memo = new Map<string, Result<T>>();

  add(method: string, path: string, handler: T): void {
    this.#inner.add(method, path, handler);
  }

  /** The first match picks the router (as SmartRouter does); RegExpRouter's answers need no memo. */
  match(method: string, path: string): Result<T> {
    const result = this.#inner.match(method, path);
    const active = this.#inner.activeRouter;
    this.name = `MemoRouter + ${active.name}`;
    this.match = active instanceof RegExpRouter ? active.match.bind(active) : this.#remembered;
    return result;
  }

  #remembered = (method: string, path: string): Result<T> => {
    if (path.length > MAX_PATH_LENGTH) return this.#inner.match(method, path);
    const key = `${method} ${path}`;
    let result = this.#memo.get(key);
    if (!result) {
      result = this.#inner.match(method, path);
      if (this.#memo.size >= MAX_PATHS) this.#memo.clear();
      this.#memo.set(key, result);
    }
    return result;
  };
}
