/**
 * postgres.js's workerd polyfills (its cf/polyfills.js, 3.4.9) as the deployed bundles carry
 * them: wrangler.toml's `alias` puts this module in place of the driver's `../polyfills.js`
 * imports. What the driver uses on every connection (Web Crypto for SCRAM and MD5 passwords,
 * the timers, `process.env`) is the driver's own, re-exported; what goes is its socket over
 * `cloudflare:sockets` and its STARTTLS upgrade (`net.Socket`, `tls.connect`, `net.isIP`: ~1.5 KiB
 * minified in every bundle that talks to Postgres).
 *
 * Nothing here reaches them: postgres.ts gives every connection our own socket with `ssl: false`,
 * so the driver neither builds a socket nor upgrades one. On workerd that socket is
 * workerd-socket.ts's; off workerd (node/serve.mjs and the bench run this bundle under Node), it
 * is node-socket.ts's, node:net with node:tls over it for a TLS mode, which both do the TLS
 * negotiation themselves.
 *
 * The path into node_modules is how the driver's own module is reached past its package
 * `exports` (which publish only the entry): a moved file or a renamed export fails the build.
 */
import { notInThisBuild } from './large.ts';

export {
  clearImmediate,
  crypto,
  fs,
  os,
  performance,
  process,
  setImmediate,
  // @ts-expect-error: the driver's polyfills ship no types.
} from '../../../node_modules/postgres/cf/polyfills.js';

/** A function, not an arrow: the driver calls `new net.Socket()`. */
function socketsOff(): never {
  throw notInThisBuild('own socket (net.Socket, tls.connect)');
}

export const net = { isIP: socketsOff, Socket: socketsOff };
export const tls = { connect: socketsOff };
