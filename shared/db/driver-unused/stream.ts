/**
 * node:stream as postgres.js's connection module (its cf/src/connection.js, 3.4.9) sees it in the
 * deployed bundles: wrangler.toml's `alias` puts this module in place of the driver's
 * `node:stream` import. The driver builds its streams only for COPY (`Writable` for COPY FROM
 * STDIN, `Readable` for COPY TO STDOUT, `Duplex` for replication), when a COPY is answered.
 *
 * Why: a bundle's external imports are evaluated at isolate start whatever imports them lazily,
 * and workerd's node:stream allocates ~93-122 KiB of young generation there, enough to push V8's
 * first scavenge (1-1.6 ms) into a new isolate's first request (bench/README.md, "Isolate start",
 * session 8). Nothing here runs a COPY: shared/db/postgres.ts hands callers only `query` over
 * `sql.unsafe` and `end`, and every statement of ours is a plain one; a COPY, were one ever sent,
 * fails at once and says why instead of streaming.
 */
import { notInThisBuild } from './large.ts';

const copyStream = (kind: string) =>
  class {
    constructor() {
      throw notInThisBuild(`COPY (node:stream ${kind})`);
    }
  };

export default {
  Writable: copyStream('Writable'),
  Readable: copyStream('Readable'),
  Duplex: copyStream('Duplex'),
};
