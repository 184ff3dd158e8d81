// Child process for `npm run bench:node-ab -- --b-entry bench/lib/serve-floor-node.mjs`: the Node
// floor (bench/lib/peers/passthrough-node.ts, the ten-line Hono passthrough) in place of a bundle
// of ours, on the fake upstream named by BENCH_VARS' LLM_BASE_URL, with the same memory report and
// probe windows, so a node-ab run reads ours and the floor side by side (the bundle argument is
// ignored). Prints `{"url": ...}` as serve-node.mjs does.
import './memory-report.mjs';
import { servePassthrough } from './peers/passthrough-node.ts';

const vars = JSON.parse(process.env.BENCH_VARS ?? '{}');
const upstream = new URL(vars.LLM_BASE_URL).origin;
const server = servePassthrough(upstream, Number(process.env.BENCH_PORT ?? 0));
server.once('listening', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
