// Preloaded (--import) by bench/profile.ts into the processes it profiles under --cpu-prof.
// 1. A process with no SIGTERM handler of its own (Portkey's gateway) exits cleanly on SIGTERM,
//    so its profile is written; one that has its own (our serve.ts, the peer wrapper) is left to it.
// 2. Counts the outgoing HTTP requests (fetch/undici, and node:http's client, which node/fetch.mjs
//    uses) by origin, and WebSocket messages sent, and
//    writes them to $BENCH_PROFILE_DIR/requests-<pid>.json at exit: what one gateway request
//    costs in calls to other services.
import diagnostics from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';

process.on('SIGTERM', () => {
  if (process.listenerCount('SIGTERM') === 1) process.exit(0);
});

const counts = {};
const bump = (key) => {
  counts[key] = (counts[key] ?? 0) + 1;
};
diagnostics.subscribe('undici:request:create', ({ request }) => bump(`http ${request.origin}`));
diagnostics.subscribe('undici:websocket:open', () => bump('websocket opened'));
// node:http's client: node/fetch.mjs's calls (and anything else on node:http) by origin.
diagnostics.subscribe('http.client.request.start', ({ request }) => {
  const host = request.getHeader?.('host') ?? request.host;
  bump(`http ${request.protocol ?? 'http:'}//${host}`);
});
process.on('exit', () => {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (dir) writeFileSync(`${dir}/requests-${process.pid}.json`, JSON.stringify(counts));
});
