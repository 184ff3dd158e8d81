/**
 * postgres.js's large-object API (`sql.largeObject`, its cf/src/large.js, 3.4.9) as the deployed
 * bundles carry it: wrangler.toml's `alias` puts this module in place of the driver's
 * `./large.js` import (~1.3 KiB minified in every bundle that talks to Postgres).
 *
 * Nothing here reaches it: shared/db/postgres.ts hands callers only `query` (over `sql.unsafe`)
 * and `end`, never the driver's `sql`. The driver binds it to each instance it creates (hence a
 * function); a call, were one ever added, throws at once and says why.
 */
export default function largeObject(): never {
  throw notInThisBuild('largeObject');
}

/** The error for a driver API these bundles left out. */
export function notInThisBuild(api: string): Error {
  return new Error(
    `postgres.js's ${api} API is not in this build: wrangler.toml aliases it to shared/db/driver-unused/, as nothing here uses it.`,
  );
}
