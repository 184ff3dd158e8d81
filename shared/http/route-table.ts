import { Hono } from 'hono';
import type { Router } from 'hono/router';
import type { Env } from 'hono/types';

/**
 * The router of a function's route table, which nothing routes with: createApp reads the table's
 * `routes` into the deployment's own app (its MemoRouter), so hono's default here (SmartRouter
 * over RegExpRouter and TrieRouter) was built and fed at module load for nothing (~5 KiB of young
 * generation in Node). Asked to match, it says so rather than answer wrong.
 */
export function unrouted<T>(): Router<T> {
  return {
    name: 'unrouted (a route table; createApp routes)',
    add() {},
    match() {
      throw new Error('a function route table does not route: serve it through createApp');
    },
  };
}

/**
 * A function's route table (or a part of one that its routes.ts mounts with `route()`): a Hono
 * whose own router is `unrouted()`, since createApp, and hono's `route()` into a parent, read its
 * `routes` and register them with their own router.
 */
export function routeTable<E extends Env>(): Hono<E> {
  return new Hono<E>({ router: unrouted() });
}
