/**
 * `util` as prom-client sees it in the deployed bundles: wrangler.toml's `alias` puts this module
 * in place of the `require('util')` of prom-client's counter, gauge, histogram, summary and
 * validation modules, which call only `util.format` and `util.inspect`, and only to word the
 * TypeError of a bad value or label. Each forwards to node:util, loaded on that first call
 * (`process.getBuiltinModule`, which workerd with nodejs_compat and Node both have).
 *
 * Why: a bundle's external imports are evaluated at isolate start, and workerd's node:util
 * allocates ~240 KiB of young generation there (bench:isolate-start --young on an empty Worker),
 * enough to push V8's first scavenge into a new isolate's first request. test/node/bundles.test.ts
 * checks that only prom-client imports `util`, and that no bundle imports node:util or node:crypto.
 */
import type * as NodeUtil from 'node:util';

let loaded: typeof NodeUtil | undefined;
const nodeUtil = (): typeof NodeUtil => {
  loaded ??= process.getBuiltinModule('node:util');
  return loaded;
};

export const format: typeof NodeUtil.format = (...args) => nodeUtil().format(...args);
export const inspect = (...args: Parameters<typeof NodeUtil.inspect>): string => nodeUtil().inspect(...args);
