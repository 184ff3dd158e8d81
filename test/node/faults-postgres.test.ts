import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { applyMigrations, readMigrations } from '../../local/migrations.ts';
import { connectNodePostgres } from '../../local/node-postgres.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../local/pglite-server.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startDevWorker } from './dev-worker.ts';

// Postgres stopped and restarted while agents keep writing to the audit ledger, against the audit
// function under `wrangler dev` and a Postgres of its own (embedded PGlite with its data on disk,
// so a restart keeps what was committed). Every write answers 201 or a clear 503, none hangs, none
// is half-written, and the chain verifies afterwards.

const AGENT_KEY = 'mas_faults_agent_key_0123456789abcdef';
const ADMIN_KEY = 'mas_faults_admin_key_0123456789abcdef';
const REQUEST_BOUND_MS = 12_000; // connect timeout (5 s) plus the statement, with room to spare

interface Outcome {
  n: number;
  status: number;
  code?: string;
  message?: string;
  elapsed: number;
}

describe('Postgres stopped and restarted mid-run', () => {
  let dataDir: string;
  let pg: EmbeddedPostgres | undefined;
  let worker: Unstable_DevWorker;
  let port: number;
  let base: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mas-faults-pg-'));
    pg = await startEmbeddedPostgres({ dataDir });
    port = pg.port;
    const db = await connectNodePostgres(pg.databaseUrl);
    try {
      await applyMigrations(db.client, readMigrations('migrations'));
    } finally {
      await db.close();
    }
    worker = await startDevWorker('audit', {
      DATABASE_URL: pg.databaseUrl,
      MAS_API_KEYS: `faults-agent:agent:${await sha256Hex(AGENT_KEY)},faults-admin:admin:${await sha256Hex(ADMIN_KEY)}`,
      APPROVAL_SECRET: 'faults-secret-0123456789',
      RATE_LIMIT_REQUESTS: '1000000',
    });
    base = `http://${worker.address}:${worker.port}`;
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await pg?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function write(n: number): Promise<Outcome> {
    const started = Date.now();
    try {
      const res = await fetch(`${base}/v1/audit/actions`, {
        method: 'POST',
        // Admin: it may record as any agent id, and each write gets its own.
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({
          agent_id: `pg-fault-${n}`,
          agent_name: 'Fault Bot',
          action_type: 'probe',
          category: n % 5 === 0 ? 'destructive' : 'read',
          inputs: { n },
        }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { error?: { code: string; message: string } };
      return {
        n,
        status: res.status,
        code: body.error?.code,
        message: body.error?.message,
        elapsed: Date.now() - started,
      };
    } catch (err) {
      return { n, status: 0, message: String(err), elapsed: Date.now() - started };
    }
  }

  it('each write is 201 or a clear 503, none hangs, none is half-written; the chain verifies after', async () => {
    const outcomes: Outcome[] = [];
    let next = 0;
    let running = true;
    const writers = Array.from({ length: 4 }, async () => {
      while (running) outcomes.push(await write(next++));
    });
    const phase = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** Waits until `count` more writes have answered 201 (or 30 s). */
    const successes = async (count: number) => {
      const target = outcomes.filter((o) => o.status === 201).length + count;
      for (let t = 0; t < 300 && outcomes.filter((o) => o.status === 201).length < target; t++)
        await phase(100);
    };

    await successes(8);
    const beforeStop = outcomes.length;
    await pg!.close(); // stopped mid-run, with writes in flight
    pg = undefined;
    // Down until the writers have seen it: a few 503s answered while nothing listens.
    const refused = () => outcomes.slice(beforeStop).filter((o) => o.status === 503).length;
    for (let t = 0; t < 300 && refused() < 4; t++) await phase(100);
    pg = await startEmbeddedPostgres({ dataDir, port });
    const restartedAt = outcomes.length;
    await successes(8);
    running = false;
    await Promise.all(writers);

    const byStatus: Record<string, Outcome[]> = {};
    for (const o of outcomes) {
      const list = byStatus[String(o.status)] ?? [];
      list.push(o);
      byStatus[String(o.status)] = list;
    }
    const summary = Object.fromEntries(Object.entries(byStatus).map(([s, list]) => [s, list.length]));
    expect(beforeStop, JSON.stringify(summary)).toBeGreaterThan(0);
    // Only 201 and 503 — never a 500, never a dropped connection.
    expect(
      Object.keys(byStatus).sort(),
      JSON.stringify(outcomes.filter((o) => o.status !== 201 && o.status !== 503).slice(0, 3)),
    ).toEqual(['201', '503']);
    for (const o of byStatus['503'] ?? []) {
      expect(o.code).toMatch(/^database_unavailable$/);
      expect(o.message).toMatch(/Postgres/);
      expect(o.message).not.toMatch(/postgres:\/\/|127\.0\.0\.1|password/);
    }
    for (const o of outcomes) expect(o.elapsed).toBeLessThan(REQUEST_BOUND_MS);
    // Writes succeed again after the restart, without restarting the worker.
    expect(outcomes.slice(restartedAt).some((o) => o.status === 201)).toBe(true);

    // What the database holds: exactly one action row per 201, none for a 503.
    const db = await connectNodePostgres(pg.databaseUrl);
    try {
      const { rows } = await db.client.query<{ agent_id: string; logs: number; actions: number }>(
        `select l.agent_id, count(*)::int as logs,
                (select count(*)::int from audit.actions a where a.agent_id = l.agent_id) as actions
           from audit.action_logs l where l.agent_id like 'pg-fault-%' group by l.agent_id`,
      );
      const stored = new Map(rows.map((r) => [r.agent_id, r]));
      for (const o of outcomes) {
        const row = stored.get(`pg-fault-${o.n}`);
        if (o.status === 201) expect(row, `write ${o.n} answered 201`).toMatchObject({ logs: 1, actions: 1 });
        else expect(row, `write ${o.n} answered ${o.status}`).toBeUndefined();
      }
      expect(rows.length).toBe(byStatus['201']!.length);
      // Every gated action has its approval, and no approval lacks its action.
      const { rows: orphans } = await db.client.query<{ n: number }>(
        `select count(*)::int as n from audit.actions a
           left join audit.approvals ap on ap.action_id = a.action_id
          where a.agent_id like 'pg-fault-%' and a.category = 'destructive' and ap.id is null`,
      );
      expect(orphans[0]!.n).toBe(0);
    } finally {
      await db.close();
    }

    const verify = await fetch(`${base}/v1/audit/verify`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(await verify.json()).toMatchObject({ ok: true, checked: byStatus['201']!.length });
  }, 90_000);

  it('CR/LF smuggled into x-correlation-id at the HTTP level never becomes a response header', async () => {
    const raw = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(worker.port, worker.address);
        let data = '';
        socket.on('data', (c) => {
          data += c.toString('latin1');
        });
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.write(`${head}\r\n`);
        setTimeout(() => socket.end(), 2000);
      });
    for (const request of [
      // A CRLF ends the header: the rest is a request header of its own, never echoed.
      'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-correlation-id: abcdefgh\r\nset-cookie: injected=1\r\n',
      // A bare LF inside the value.
      'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-correlation-id: abcdefgh\nset-cookie: injected=1\r\n',
      // An obsolete folded line.
      'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-correlation-id: abcdefgh\r\n set-cookie: injected=1\r\n',
    ]) {
      const response = await raw(request);
      const [head] = response.split('\r\n\r\n');
      expect(head, response).toMatch(/^HTTP\/1\.1 [24]\d\d/);
      expect(head!.toLowerCase()).not.toContain('set-cookie');
      expect(head!.toLowerCase()).not.toContain('injected');
      const id = /x-correlation-id: ([^\r\n]*)/i.exec(head!)?.[1];
      if (id !== undefined) expect(id).toMatch(/^(abcdefgh|[0-9a-f]{32})$/);
    }
  });
});
