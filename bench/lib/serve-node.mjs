// Child process: ours on Node as plain JavaScript (the `node-bundle` runtime and the cold-start
// cell): node/serve.mjs serving <module> (the deploy bundle), the vars as JSON in BENCH_VARS,
// BENCH_PORT (else any free port); prints `{"url": ...}` like bench/lib/serve.ts. No `.ts` file
// is loaded, so Node's TypeScript stripper (~17 MiB RSS, ~30 ms CPU) stays out of the process
// whose start-up time, CPU and memory are measured, as it is out of Portkey's.
// With BENCH_MEMORY_DIR, SIGUSR2 writes its memory before and after a full GC (memory-report.mjs).
// First, as node/serve.mjs run as a program does: the young generation's size, which needs an
// exec, before the rest is loaded (hence the dynamic imports after it).
import { execWithYoungGeneration } from '../../node/young-generation.mjs';

execWithYoungGeneration();
const { loadHandler, saveCompileCache, serveNode, useCompileCache } = await import('../../node/serve.mjs');
await import('./memory-report.mjs');

useCompileCache();
const handler = await loadHandler(process.argv[2]);
const env = JSON.parse(process.env.BENCH_VARS ?? '{}');
const server = await serveNode(handler, {
  env,
  port: Number(process.env.BENCH_PORT ?? 0),
  fetch: process.env.MAS_NODE_FETCH === 'native' ? 'native' : 'lean',
});
saveCompileCache();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
