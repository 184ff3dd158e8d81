/**
 * node:crypto, loaded on its first use (`process.getBuiltinModule`, which workerd with
 * nodejs_compat and Node both have), not imported: a bundle's external imports are evaluated at
 * isolate start however lazily their importers run, and workerd's node:crypto allocates ~330 KiB
 * of young generation there (bench:isolate-start --young on an empty Worker), enough to push
 * V8's first scavenge into a new isolate's first request. Only the ledger's hashes use it.
 */
import type * as NodeCrypto from 'node:crypto';

let loaded: typeof NodeCrypto | undefined;

export function nodeCrypto(): typeof NodeCrypto {
  loaded ??= process.getBuiltinModule('node:crypto');
  return loaded;
}
