/**
 * `npm run load`: sustained mixed traffic on loopback, then a ledger check. See bench/README.md.
 *   node bench/load.ts [--duration 60] [--rate N | --find-max] [--mix chat=5,audit=4,approval=1]
 *                      [--gated 0.3] [--runtime workerd|workerd-dev|node] [--p99 15]
 * Without --rate it first finds the highest rate whose p99s all stay under --p99 (--find-max).
 * Open loop: requests start at a fixed rate whatever the answers (capped at --max-inflight), so a
 * slow server shows as latency, not as a politely lower rate. Kinds:
 *   chat      POST /v1/chat/completions through the fake upstream (200)
 *   audit     POST /v1/audit/actions (201); a `--gated` share is `destructive`, so pending approval
 *   approval  POST /v1/approvals/{id}/decision on one of those (200); an audit write if none waits
 * Afterwards: GET /v1/audit/verify must say ok, and the ledger rows written during the run must
 * equal the 201s (action rows) and the 200 decisions (decision rows). Exit 1 otherwise.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectNodePostgres } from '../local/node-postgres.ts';
import { giveUpAfter } from './lib/children.ts';
import { BENCH_KEYS, bearer } from './lib/keys.ts';
import { formatTable, machineInfo, round } from './lib/report.ts';
import { RUNTIMES, type Runtime } from './lib/runtimes.ts';
import { buildBundles, setupBench } from './lib/setup.ts';
import { Samples } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    rate: { type: 'string' },
    'find-max': { type: 'boolean', default: false },
    'step-seconds': { type: 'string', default: '5' },
    p99: { type: 'string', default: '15' },
    mix: { type: 'string', default: 'chat=5,audit=4,approval=1' },
    gated: { type: 'string', default: '0.3' },
    'max-inflight': { type: 'string', default: '256' },
    runtime: { type: 'string', default: 'workerd' },
    redis: { type: 'string', default: 'on' },
    out: { type: 'string', default: 'bench/results' },
    'max-seconds': { type: 'string', default: '900' },
  },
});
// Every run is bounded: whatever hangs, the run ends (children are killed on exit).
giveUpAfter('load', Number(args['max-seconds']));
const runtime = args.runtime as Runtime;
if (!RUNTIMES.includes(runtime) || runtime === 'deno')
  throw new Error('--runtime: workerd, workerd-raw, workerd-dev or node');
const KINDS = ['chat', 'audit', 'approval'] as const;
type Kind = (typeof KINDS)[number];
const mix = Object.fromEntries(
  args
    .mix!.split(',')
    .map((p) => p.split('='))
    .map(([k, v]) => [k, Number(v)]),
) as Record<Kind, number>;
const gatedShare = Number(args.gated);
const maxInflight = Number(args['max-inflight']);
const p99Target = Number(args.p99);
const log = (line: string) => console.log(`[load] ${line}`);

if (runtime === 'workerd' || runtime === 'workerd-raw') await buildBundles(['all'], 'bench/.dist');
const env = await setupBench({
  runtime,
  upstream: { chunks: 8, delayMs: 0 },
  bundleDir: 'bench/.dist/all',
  redis: args.redis !== 'off',
  logLevel: 'warn',
  log,
});
const base = env.fn.info.url;
const db = await connectNodePostgres(env.stack.info.databaseUrl);

interface KindStats {
  latency: Samples;
  sent: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
}
interface Phase {
  rate: number;
  seconds: number;
  dropped: number;
  kinds: Record<Kind, KindStats>;
  audit201: number;
  decisions200: number;
}

const pending: string[] = [];
let serial = 0;
/**
 * What each ledger-writing request (by its correlation id) was told: written (201/200),
 * refused (any other status: must have written nothing), or unanswered (the client gave up;
 * either outcome is allowed, and it is reported).
 */
const outcomes = new Map<
  string,
  { type: 'action' | 'decision'; outcome: 'written' | 'refused' | 'unanswered' }
>();
let requestSerial = 0;

async function one(kind: Kind, phase: Phase): Promise<void> {
  let path: string;
  let body: unknown;
  let key: keyof typeof BENCH_KEYS = 'agent';
  let expect = 200;
  const approvalId = kind === 'approval' ? pending.shift() : undefined;
  if (approvalId) {
    path = `/v1/approvals/${approvalId}/decision`;
    body = { decision: 'approve', reason: 'load test' };
    key = 'approver';
  } else if (kind === 'chat') {
    path = '/v1/chat/completions';
    body = { model: 'fast', messages: [{ role: 'user', content: 'Say hello.' }] };
  } else {
    kind = kind === 'approval' ? 'audit' : kind;
    const gated = Math.random() < gatedShare;
    path = '/v1/audit/actions';
    expect = 201;
    body = {
      agent_id: BENCH_KEYS.agent.id,
      agent_name: 'Load',
      action_type: gated ? 'bench.delete_bucket' : 'bench.lookup',
      category: gated ? 'destructive' : 'read',
      inputs: { n: ++serial, bucket: 'logs' },
    };
  }
  const stats = phase.kinds[kind];
  stats.sent++;
  const correlationId = `load-${process.pid}-${++requestSerial}`;
  const ledgerType = expect === 201 ? 'action' : kind === 'approval' ? 'decision' : undefined;
  if (ledgerType) outcomes.set(correlationId, { type: ledgerType, outcome: 'unanswered' });
  const t0 = performance.now();
  try {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: bearer(key),
        'x-correlation-id': correlationId,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    stats.statuses[res.status] = (stats.statuses[res.status] ?? 0) + 1;
    if (ledgerType) {
      outcomes.set(correlationId, {
        type: ledgerType,
        outcome: res.status === expect ? 'written' : 'refused',
      });
    }
    if (res.status !== expect) {
      stats.errors++;
      return;
    }
    stats.ok++;
    stats.latency.push(ms);
    if (expect === 201) {
      phase.audit201++;
      const approval = (JSON.parse(text) as { approval?: { id: string } }).approval;
      if (approval) pending.push(approval.id);
    }
    if (kind === 'approval') phase.decisions200++;
  } catch {
    stats.errors++;
  }
}

/** Starts requests at `rate`/s for `seconds`, picking kinds by weight; waits for all to finish. */
async function runPhase(rate: number, seconds: number): Promise<Phase> {
  const kinds = Object.fromEntries(
    KINDS.map((k) => [k, { latency: new Samples(), sent: 0, ok: 0, errors: 0, statuses: {} }]),
  ) as Record<Kind, KindStats>;
  const phase: Phase = { rate, seconds, dropped: 0, kinds, audit201: 0, decisions200: 0 };
  const total = KINDS.reduce((s, k) => s + (mix[k] ?? 0), 0);
  const pick = (): Kind => {
    let r = Math.random() * total;
    for (const k of KINDS) {
      r -= mix[k] ?? 0;
      if (r < 0) return k;
    }
    return 'chat';
  };
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const end = start + seconds * 1000;
  let next = start;
  while (next < end) {
    const now = performance.now();
    while (next <= now && next < end) {
      next += 1000 / rate;
      if (inflight.size >= maxInflight) {
        phase.dropped++;
        continue;
      }
      const p = one(pick(), phase).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next - performance.now(), 5))));
  }
  await Promise.all(inflight);
  phase.seconds = (performance.now() - start) / 1000;
  return phase;
}

const worstP99 = (p: Phase) =>
  Math.max(...KINDS.map((k) => p.kinds[k].latency.summary().p99).filter((v) => !Number.isNaN(v)));
const errorsOf = (p: Phase) => KINDS.reduce((s, k) => s + p.kinds[k].errors, 0) + p.dropped;

let exitCode = 0;
try {
  // Rows get their seq when the sealer reaches them: drain the queue first (sealing here too,
  // through the same function, waiting while a gateway's sealer holds the log).
  const maxSeq = async () => {
    for (let i = 0; i < 6000; i++) {
      await db.client.query("select audit.seal('main', 5000)");
      const q = await db.client.query<{ n: string }>(
        "select count(*) as n from audit.ledger_queue where log = 'main'",
      );
      if (Number(q.rows[0]?.n ?? 0) === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return Number(
      (
        await db.client.query<{ m: string | null }>(
          "select max(seq) as m from audit.ledger_seq where log = 'main'",
        )
      ).rows[0]?.m ?? 0,
    );
  };
  let rate = Number(args.rate ?? 0);
  const findMax = args['find-max'] || args.rate === undefined;
  const ramp: Array<{ rate: number; worstP99: number; errors: number }> = [];
  if (findMax) {
    // Double the rate in short steps until the worst p99 passes the target or errors appear.
    let good = 0;
    for (let r = 10; r <= 5000; r *= 2) {
      const p = await runPhase(r, Number(args['step-seconds']));
      const worst = round(worstP99(p), 2);
      ramp.push({ rate: r, worstP99: worst, errors: errorsOf(p) });
      log(`ramp ${r}/s: worst p99 ${worst} ms, errors ${errorsOf(p)}`);
      if (worst > p99Target || errorsOf(p) > 0) break;
      good = r;
    }
    rate = good || 10;
    log(`sustained run at ${rate}/s${good ? '' : ' (no step met the p99 target; running at the lowest)'}`);
  }
  pending.length = 0;
  const seqBefore = await maxSeq();
  const phase = await runPhase(rate, Number(args.duration));
  const seqAfter = await maxSeq();
  const { rows } = await db.client.query<{ entry_type: string; n: string }>(
    `select l.entry_type, count(*) as n from audit.ledger_seq s join audit.action_logs l on l.id = s.entry_id
      where s.log = 'main' and s.seq > $1 and s.seq <= $2 group by l.entry_type`,
    [seqBefore, seqAfter],
  );
  const rowsByType = Object.fromEntries(rows.map((r) => [r.entry_type, Number(r.n)]));
  const verifyRes = await fetch(`${base}/v1/audit/verify`, {
    headers: { authorization: bearer('admin') },
    signal: AbortSignal.timeout(120_000),
  });
  const verify = (await verifyRes.json()) as { ok?: boolean; checked?: number };
  const actionRows = rowsByType.action ?? 0;
  const decisionRows = rowsByType.decision ?? 0;
  // Per request, by correlation id: every written answer has exactly one row of its type, every
  // refusal none; an unanswered request may have one (the server finished after the client left).
  const perId = await db.client.query<{ correlation_id: string; entry_type: string; n: string }>(
    `select l.correlation_id, l.entry_type, count(*) as n
       from audit.ledger_seq s join audit.action_logs l on l.id = s.entry_id
      where s.log = 'main' and s.seq > $1 and s.seq <= $2 and l.correlation_id like 'load-%'
        and l.entry_type in ('action', 'decision')
      group by l.correlation_id, l.entry_type`,
    [seqBefore, seqAfter],
  );
  const rowsOf = new Map(perId.rows.map((r) => [`${r.correlation_id}|${r.entry_type}`, Number(r.n)]));
  const check = { lost: 0, duplicated: 0, writtenWhenRefused: 0, unanswered: 0, unansweredWritten: 0 };
  for (const [id, { type, outcome }] of outcomes) {
    const n = rowsOf.get(`${id}|${type}`) ?? 0;
    if (n > 1) check.duplicated++;
    if (outcome === 'written' && n === 0) check.lost++;
    if (outcome === 'refused' && n > 0) check.writtenWhenRefused++;
    if (outcome === 'unanswered') {
      check.unanswered++;
      if (n > 0) check.unansweredWritten++;
    }
  }
  const ledgerOk =
    verify.ok === true && check.lost === 0 && check.duplicated === 0 && check.writtenWhenRefused === 0;

  const kinds = Object.fromEntries(
    KINDS.map((k) => {
      const s = phase.kinds[k];
      const sum = s.latency.summary();
      return [
        k,
        {
          sent: s.sent,
          ok: s.ok,
          rate: round(s.ok / phase.seconds, 1),
          p50: round(sum.p50, 2),
          p99: round(sum.p99, 2),
          max: round(sum.max, 2),
          errors: s.errors,
          statuses: s.statuses,
        },
      ];
    }),
  );
  const result = {
    date: new Date().toISOString().slice(0, 10),
    runtime,
    machine: machineInfo(),
    config: {
      rate,
      duration: Number(args.duration),
      mix,
      gatedShare,
      maxInflight,
      p99Target,
      redis: args.redis !== 'off',
      findMax,
    },
    ramp,
    seconds: round(phase.seconds, 2),
    dropped: phase.dropped,
    kinds,
    ledger: {
      verify,
      audit201: phase.audit201,
      actionRows,
      decisions200: phase.decisions200,
      decisionRows,
      rowsByType,
      perRequest: check,
      ok: ledgerOk,
    },
  };
  console.log(
    `\nload on ${runtime}: ${rate}/s offered for ${result.seconds} s; ${phase.dropped} not sent (over ${maxInflight} in flight)\n`,
  );
  console.log(
    formatTable(
      ['kind', 'sent', 'ok', 'ok/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'statuses'],
      KINDS.map((k) => {
        const s = kinds[k]!;
        return [
          k,
          String(s.sent),
          String(s.ok),
          String(s.rate),
          String(s.p50),
          String(s.p99),
          String(s.max),
          String(s.errors),
          JSON.stringify(s.statuses),
        ];
      }),
    ),
  );
  console.log(
    `\nledger: verify ${JSON.stringify(verify)}; action rows ${actionRows} vs 201s ${phase.audit201}; ` +
      `decision rows ${decisionRows} vs 200 decisions ${phase.decisions200}; per request: ${check.lost} lost, ` +
      `${check.duplicated} duplicated, ${check.writtenWhenRefused} written though refused, ${check.unanswered} ` +
      `unanswered (${check.unansweredWritten} of them written) → ${ledgerOk ? 'OK' : 'MISMATCH'}`,
  );
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `${result.date}-load-${runtime}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
  if (!ledgerOk) exitCode = 1;
} catch (err) {
  console.error(`[load] failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  await db.close();
  await env.stop();
}
process.exit(exitCode);
