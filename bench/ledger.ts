/**
 * `npm run bench:ledger`: the ledger's own cells against a real PostgreSQL (DATABASE_URL, as its
 * owner; `synchronous_commit` as the server has it), through the driver and code the functions use:
 *   - single appends at concurrency 32 (one statement each, no shared lock): rows/s, p50/p99
 *   - batched appends (500 entries per statement): rows/s
 *   - sealing lag (entry written → sealed), p50/p99, while the writers run, one sealer woken per write
 *   - verify of a 1,000,000-row log (bulk built), as GET /v1/audit/verify does it, and the offline
 *     verifier over its export
 * Each cell writes to a log of its own, and reports CPU per row beside the wall-clock figures (the
 * Postgres backends' from /proc, this process's): on a shared machine those are what the work
 * costs. Options: --rows 1000000 --seconds 10 --concurrency 32.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { connectNodePostgres } from '../local/node-postgres.ts';
import { appendLedgerEntries, sealPending } from '../shared/audit/ledger.ts';
import { createCheckpoint, verifyStoredLog } from '../shared/audit/ledger-checkpoints.ts';
import { exportLedger, verifyExport } from '../shared/audit/ledger-export.ts';
import { generateSignerKey, parseVerifierKey } from '../shared/audit/ledger-note.ts';
import { parseSettings } from '../shared/env.ts';
import { bulkAppend, syntheticEntry } from '../test/ledger-bulk.ts';
import { machineInfo, round } from './lib/report.ts';
import { Samples } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
  },
});
const url = process.env.DATABASE_URL;
if (!url) throw new Error('bench:ledger needs DATABASE_URL (a Postgres it may write bench logs to)');
const log = (line: string) => console.log(`[bench:ledger] ${line}`);
const key = await generateSignerKey('bench.mas/ledger');
const settings = parseSettings({ DATABASE_URL: url, LEDGER_SIGNING_KEY: key.signer });
const run = crypto.randomUUID().slice(0, 8);
const main = await connectNodePostgres(url);
const sync = (await main.client.query<{ synchronous_commit: string }>('show synchronous_commit')).rows[0]
  ?.synchronous_commit;
log(`machine: ${JSON.stringify(machineInfo())}; synchronous_commit=${sync}`);

/**
 * CPU seconds (user + system) the given Postgres backends have used, from /proc (the bench runs
 * beside the server). With the machine shared, wall-clock figures are the scheduler's; CPU per row
 * is what the work costs, whatever else runs.
 */
const TICKS_PER_SECOND = 100;
function backendCpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Not on this machine (a remote DATABASE_URL): reported as 0.
    }
  }
  return ticks / TICKS_PER_SECOND;
}
const backendPid = async (c: { client: { query: typeof main.client.query } }) =>
  Number((await c.client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
const nodeCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const perRowUs = (seconds: number, rows: number) => round((seconds * 1e6) / Math.max(1, rows), 1);

/** Writers appending one entry per statement; one sealer loop woken by the writes. */
async function appendCell(name: string, perStatement: number, seconds: number, concurrency: number) {
  const logName = `bench-${name}-${run}`;
  const writers = await Promise.all(Array.from({ length: concurrency }, () => connectNodePostgres(url!)));
  const sealer = await connectNodePostgres(url!);
  const writerPids = await Promise.all(writers.map(backendPid));
  const sealerPid = await backendPid(sealer);
  const cpu0 = {
    writers: backendCpuSeconds(writerPids),
    sealer: backendCpuSeconds([sealerPid]),
    node: nodeCpuSeconds(),
  };
  const latency = new Samples();
  let rows = 0;
  let stop = false;
  let wake = false;
  const sealing = (async () => {
    while (!stop || wake) {
      if (!wake) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      wake = false;
      await sealPending(sealer.client, logName);
    }
  })();
  const t0 = performance.now();
  await Promise.all(
    writers.map(async (w, wi) => {
      let i = 0;
      while (performance.now() - t0 < seconds * 1000) {
        const items = Array.from({ length: perStatement }, () => ({
          entry: syntheticEntry(logName, wi * 1e7 + i++, new Date().toISOString()),
        }));
        const s = performance.now();
        await appendLedgerEntries(w.client, items, { log: logName });
        latency.push(performance.now() - s);
        rows += perStatement;
        wake = true;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await sealing;
  await sealPending(sealer.client, logName);
  const cpu = {
    writers: backendCpuSeconds(writerPids) - cpu0.writers,
    sealer: backendCpuSeconds([sealerPid]) - cpu0.sealer,
    node: nodeCpuSeconds() - cpu0.node,
  };
  const lag = await main.client.query<{ p50: number; p99: number; max: number }>(
    `select percentile_cont(0.5) within group (order by ms) as p50, percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max
       from (select extract(epoch from s.sealed_at - l.created_at) * 1000 as ms
               from audit.ledger_seq s join audit.action_logs l on l.id = s.entry_id where s.log = $1) t`,
    [logName],
  );
  await Promise.all([...writers, sealer].map((w) => w.close()));
  const summary = latency.summary();
  return {
    cell: name,
    concurrency,
    entries_per_statement: perStatement,
    rows,
    rows_per_s: round(rows / elapsed, 0),
    statement_p50_ms: round(summary.p50, 2),
    statement_p99_ms: round(summary.p99, 2),
    sealing_lag_p50_ms: round(Number(lag.rows[0]?.p50 ?? 0), 1),
    sealing_lag_p99_ms: round(Number(lag.rows[0]?.p99 ?? 0), 1),
    sealing_lag_max_ms: round(Number(lag.rows[0]?.max ?? 0), 1),
    // CPU per row: Postgres writer backends (append), the sealer's backend, this process (client).
    pg_append_cpu_us_per_row: perRowUs(cpu.writers, rows),
    pg_seal_cpu_us_per_row: perRowUs(cpu.sealer, rows),
    node_cpu_us_per_row: perRowUs(cpu.node, rows),
    loadavg_at_end: loadavg().map((v) => round(v, 2)),
  };
}

const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const results: unknown[] = [];
results.push(await appendCell('single', 1, seconds, concurrency));
log(JSON.stringify(results.at(-1)));
results.push(await appendCell('batched', 500, seconds, 4));
log(JSON.stringify(results.at(-1)));

const total = Number(args.rows);
const bigLog = `bench-verify-${run}`;
let t = performance.now();
await bulkAppend(main.client, bigLog, total, {
  batch: 10_000,
  onBatch: (done) => done % 200_000 === 0 && log(`built ${done} rows`),
});
await createCheckpoint(main.client, settings, { log: bigLog });
const buildSeconds = (performance.now() - t) / 1000;
t = performance.now();
const mainPid = await backendPid(main);
const verifyCpu0 = { pg: backendCpuSeconds([mainPid]), node: nodeCpuSeconds() };
const verified = await verifyStoredLog(main.client, settings, bigLog);
const verifySeconds = (performance.now() - t) / 1000;
const verifyCpu = {
  pg: backendCpuSeconds([mainPid]) - verifyCpu0.pg,
  node: nodeCpuSeconds() - verifyCpu0.node,
};
log(`verify ${total} rows: ${round(verifySeconds, 1)} s ${JSON.stringify(verified)}`);
const lines: string[] = [];
for await (const line of exportLedger(main.client, { log: bigLog })) lines.push(line);
t = performance.now();
const offlineCpu0 = nodeCpuSeconds();
const offline = await verifyExport(() => lines, { key: parseVerifierKey(key.verifier) });
const offlineSeconds = (performance.now() - t) / 1000;
const offlineCpu = nodeCpuSeconds() - offlineCpu0;
results.push({
  cell: 'verify',
  rows: total,
  build_seconds: round(buildSeconds, 1),
  verify_seconds: round(verifySeconds, 1),
  verify_ok: verified.ok,
  verify_cpu_seconds: { node: round(verifyCpu.node, 1), postgres: round(verifyCpu.pg, 1) },
  offline_verify_seconds: round(offlineSeconds, 1),
  offline_cpu_seconds: round(offlineCpu, 1),
  offline_ok: offline.ok,
  loadavg_at_end: loadavg().map((v) => round(v, 2)),
});
log(JSON.stringify(results.at(-1)));
await main.close();
console.log(
  JSON.stringify(
    { date: new Date().toISOString(), machine: machineInfo(), synchronous_commit: sync, results },
    null,
    2,
  ),
);
process.exit(0);
