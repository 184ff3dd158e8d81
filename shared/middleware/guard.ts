import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/create-app.ts';
import { type AuthOptions, auth } from './auth/index.ts';
import { rateLimit } from './rate-limit/index.ts';

export interface GuardOptions extends AuthOptions {
  /** Set before auth runs, so its refusals are in that shape too (messages: Anthropic's). */
  errorShape?: 'anthropic';
}

/**
 * auth then rateLimit as one middleware: one route entry where two made hono (and createApp's
 * trie) register and store each path twice, and one step of hono's dispatch fewer per request.
 * Both throw to refuse and otherwise return `next()`'s promise, so chaining them is what hono's
 * compose did. Each call makes its own rateLimit (its own buckets), as one per path did before.
 */
export function guard(options: GuardOptions = {}): MiddlewareHandler<AppEnv> {
  const { errorShape, ...authOptions } = options;
  const authenticate = auth(authOptions);
  const limit = rateLimit();
  if (errorShape) {
    return function guardMiddleware(c, next) {
      c.set('errorShape', errorShape);
      return authenticate(c, () => limit(c, next) as Promise<void>) as Promise<void>;
    };
  }
  return function guardMiddleware(c, next) {
    return authenticate(c, () => limit(c, next) as Promise<void>) as Promise<void>;
  };
}
