import type { Result, Router } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';

/** Distinct method+path answers remembered at once (then forgotten all together), and up to what path length. */
const MAX_PATHS = 1024;
const MAX_PATH_LENGTH = 256;

/**
 * Hono's TrieRouter, with its answers remembered per method and path. Every deployment routes
 * with it. Hono's default (SmartRouter over RegExpRouter, then TrieRouter) compiles every route
 * into one regular expression on the first match: a new isolate's first request paid that build
 * (with the compilation of RegExpRouter's own code), the largest single part of the first
 * request's JavaScript (`npm run bench:isolate-start`), and RegExpRouter cannot hold a static path
 * beside a parameter at the same place anyway (`/approvals/pending` and `/approvals/:id`), so the
 * approval function and the combined deployment already used TrieRouter. TrieRouter builds its
 * tree as routes are added and walks it on every match (~4 µs for `/v1/chat/completions` over all
 * the functions' routes), so its answers are remembered: a match depends only on method and path,
 * and nothing reads a result to change it (hono reads the handlers and params; each request
 * decodes its own copy), so one answer serves every request for that path. Bounded: a flood of
 * distinct paths only makes it walk the tree again.
 */
export class MemoRouter<T> implements Router<T> {
  name = 'MemoRouter + TrieRouter';
  readonly #inner = new TrieRouter<T>();
  readonly #memo = new Map<string, Result<T>>();

  add(method: string, path: string, handler: T): void {
    this.#inner.add(method, path, handler);
    // A route added after a match (hono adds them all before the first request) must be seen.
    this.#memo.clear();
  }

  match(method: string, path: string): Result<T> {
    if (path.length > MAX_PATH_LENGTH) return this.#inner.match(method, path);
    const key = `${method} ${path}`;
    let result = this.#memo.get(key);
    if (!result) {
      result = this.#inner.match(method, path);
      if (this.#memo.size >= MAX_PATHS) this.#memo.clear();
      this.#memo.set(key, result);
    }
    return result;
  }
}
