import { notInThisBuild } from './large.ts';

/**
 * postgres.js's logical-replication client (`sql.subscribe`, its cf/src/subscribe.js, 3.4.9) as
 * the deployed bundles carry it: wrangler.toml's `alias` puts this module in place of the
 * driver's `./subscribe.js` import (~4.1 KiB minified in every bundle that talks to Postgres).
 *
 * The driver calls this factory for every instance it creates: its `no_subscribe` option, which
 * would skip it, is dropped by its own option parsing. The original builds a second, idle driver
 * instance each time (its replication connection, opened on the first subscription) and ends it
 * with the first; this builds nothing, and has no `sql` for `end()` to wait on.
 *
 * Nothing here subscribes: shared/db/postgres.ts hands callers only `query` (over `sql.unsafe`)
 * and `end`, never the driver's `sql`. A subscription, were one ever added, throws at once and
 * says why.
 */
export default function Subscribe(): () => never {
  return () => {
    throw notInThisBuild('subscribe');
  };
}
