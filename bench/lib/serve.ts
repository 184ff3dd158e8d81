/**
 * Child process: serves the combined function on one runtime (bench/lib/runtimes.ts) and prints
 * `{"url": ...}`. Arguments: runtime, bundle dir; the vars come as JSON in BENCH_VARS.
 * SIGTERM stops it. Its process tree (workerd included) is what CPU per request is read from.
 */
import './memory-report.mjs';
import { type Runtime, startRuntime } from './runtimes.ts';

const [runtime, bundleDir] = process.argv.slice(2) as [Runtime, string];
const vars = JSON.parse(process.env.BENCH_VARS ?? '{}') as Record<string, string>;
const server = await startRuntime(runtime, vars, bundleDir);
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
