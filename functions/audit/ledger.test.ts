import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { hmacHex } from '../../shared/approvals/receipts.ts';
import { MAIN_LOG } from '../../shared/audit/ledger.ts';
import { sendToWitness } from '../../shared/audit/ledger-checkpoints.ts';
import { openCheckpointNote, parseCheckpointNote, parseVerifierKey } from '../../shared/audit/ledger-note.ts';
import { fromBase64, leafHash, verifyConsistency, verifyInclusion } from '../../shared/audit/ledger-tree.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { adminSql, bearer, call, type KEYS, testEnv } from '../../test/workers/helpers.ts';
import auditApp from './index.ts';

/** A fixed test key: checkpoints of `main` made by any test run verify under it. */
const TEST_LEDGER_KEY = {
  signer: 'PRIVATE+KEY+test.mas/ledger+ae1cfbb6+AQD9wRfVSO4Js2OJlJSNpy7EFIG16xuaaj3w54CJwRwQ',
  verifier: 'test.mas/ledger+ae1cfbb6+ASVnP7z1hSaa4z5vEdcOJ0fHwasyNXYVYIWn3LXMz8tZ',
};

const ledgerEnv = (over: Record<string, string | undefined> = {}) =>
  testEnv({ LEDGER_SIGNING_KEY: TEST_LEDGER_KEY.signer, ...over });

async function req(
  path: string,
  init: RequestInit & { role?: keyof typeof KEYS; env?: Record<string, string> } = {},
) {
  const { role = 'admin', env, ...rest } = init;
  return call(auditApp, path, {
    ...rest,
    headers: { 'content-type': 'application/json', ...bearer(role), ...(rest.headers ?? {}) },
    env: await ledgerEnv(env),
  });
}

const record = async (over: Record<string, unknown> = {}) => {
  const res = await req('/v1/audit/actions', {
    method: 'POST',
    role: 'agent',
    body: JSON.stringify({
      agent_id: 'agent-1',
      agent_name: 'Ledger tester',
      action_type: 'search',
      category: 'read',
      inputs: { q: 'x' },
      ...over,
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { action_id: string }).action_id;
};

/** As the database owner (the suite itself connects as mas_app): what an attacker or a DBA does. */
const sql = adminSql;

describe('the append path', () => {
  it('1,000 concurrent writes: every one recorded once, sealed gapless, and the log verifies', async () => {
    const run = `conc-${crypto.randomUUID().slice(0, 8)}`;
    const total = 1000;
    // 32 at once: the machine's Postgres (100 connections) is shared with other suites.
    const concurrency = inject('stackInfo').embeddedPostgres ? 24 : 32;
    let next = 0;
    const statuses: number[] = [];
    const env = await ledgerEnv();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const n = next++;
          const res = await call(auditApp, '/v1/audit/actions', {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...bearer('agent') },
            body: JSON.stringify({
              agent_id: 'agent-1',
              correlation_id: `${run}-${n}`,
              agent_name: 'C',
              action_type: 'search',
              category: 'read',
              inputs: { n },
            }),
            env,
          });
          statuses.push(res.status);
        }
      }),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(total);
    const verify = (await (await req('/v1/audit/verify')).json()) as {
      ok: boolean;
      checked: number;
      tree_size: number;
    };
    expect(verify.ok, JSON.stringify(verify)).toBe(true);
    const [mine] = await sql<{ n: number; sealed: number }>(
      `select count(*)::int as n, count(s.seq)::int as sealed from audit.action_logs l
         left join audit.ledger_seq s on s.entry_id = l.id where l.correlation_id like $1`,
      [`${run}-%`],
    );
    expect(mine).toEqual({ n: total, sealed: total });
    const [gaps] = await sql<{ max: number; n: number }>(
      'select max(seq)::int as max, count(*)::int as n from audit.ledger_seq where log = $1',
      [MAIN_LOG],
    );
    expect(gaps!.max).toBe(gaps!.n);
  }, 180_000);

  it('refuses UPDATE and DELETE on sealed history (trigger backstop)', async () => {
    await record();
    await req('/v1/audit/checkpoints', { method: 'POST' });
    const tables = {
      'audit.action_logs': 'id',
      'audit.ledger_seq': 'entry_id',
      'audit.tree_nodes': '(log, level, idx)',
      'audit.checkpoints': '(log, tree_size)',
    };
    for (const [table, key] of Object.entries(tables)) {
      const one = `${key} in (select ${key.replace(/[()]/g, '')} from ${table} limit 1)`;
      expect(await sql(`select 1 from ${table} where ${one}`)).toHaveLength(1);
      await expect(sql(`delete from ${table} where ${one}`)).rejects.toThrow(`${table} is append-only`);
    }
    await expect(
      sql("update audit.action_logs set status = 'x' where id in (select id from audit.action_logs limit 1)"),
    ).rejects.toThrow(/append-only/);
  });

  it('the application role (mas_app) appends and seals, and can never UPDATE or DELETE ledger rows', async () => {
    const asApp = async (statement: string, params: unknown[] = []) =>
      withPostgres(getSettings(await testEnv()), async (client) => {
        await client.query('begin');
        try {
          await client.query('set local role mas_app');
          return (await client.query(statement, params)).rows;
        } finally {
          await client.query('rollback');
        }
      });
    await record();
    for (const table of ['audit.action_logs', 'audit.ledger_seq', 'audit.tree_nodes', 'audit.checkpoints']) {
      expect(await asApp(`select 1 from ${table} limit 1`)).toHaveLength(1);
      await expect(asApp(`delete from ${table}`)).rejects.toThrow(/permission denied/);
    }
    await expect(asApp("update audit.action_logs set status = 'x'")).rejects.toThrow(/permission denied/);
    await expect(asApp("update audit.ledger_seq set row_hash = repeat('0', 64)")).rejects.toThrow(
      /permission denied/,
    );
    await expect(
      asApp('insert into audit.ledger_seq select * from audit.ledger_seq limit 1'),
    ).rejects.toThrow(/permission denied/);
    await expect(asApp('delete from audit.ledger_queue')).rejects.toThrow(/permission denied/);
    // Only audit.append_entries queues (with the entry it inserts): nothing queues an id without one.
    await expect(
      asApp(
        "insert into audit.ledger_queue (log, entry_id, canonical) values ('x', gen_random_uuid(), '{}')",
      ),
    ).rejects.toThrow(/permission denied/);
    expect(await asApp('select audit.seal($1, 10) as n', [`app-${crypto.randomUUID()}`])).toEqual([{ n: 0 }]);
  });
});

describe('signed checkpoints', () => {
  it('POST /v1/audit/checkpoints signs the log (admin only); the note verifies with the public key', async () => {
    await record();
    expect((await req('/v1/audit/checkpoints', { method: 'POST', role: 'approver' })).status).toBe(403);
    const res = await req('/v1/audit/checkpoints', { method: 'POST' });
    expect(res.status).toBe(201);
    const made = (await res.json()) as { tree_size: number; note: string; root_hash: string };
    const pub = (await (await req('/v1/audit/public-key', { role: 'agent' })).json()) as {
      key: string;
      origin: string;
    };
    expect(pub.key).toBe(TEST_LEDGER_KEY.verifier);
    const opened = await openCheckpointNote(made.note, parseVerifierKey(pub.key));
    expect(opened).toMatchObject({ origin: pub.origin, size: made.tree_size });
    expect(made.note).toMatch(
      /^test\.mas\/ledger\n\d+\n[A-Za-z0-9+/]{43}=\ntime \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n\n— test\.mas\/ledger [A-Za-z0-9+/]+=*\n$/,
    );
    // Nothing new: the same checkpoint, not a second one.
    const again = await req('/v1/audit/checkpoints', { method: 'POST' });
    expect([200, 201]).toContain(again.status);
    const latest = (await (await req('/v1/audit/checkpoint', { role: 'agent' })).json()) as {
      tree_size: number;
    };
    expect(latest.tree_size).toBeGreaterThanOrEqual(made.tree_size);
  });

  it('without LEDGER_SIGNING_KEY the checkpoint routes say so (503)', async () => {
    const res = await req('/v1/audit/checkpoints', { method: 'POST', env: { LEDGER_SIGNING_KEY: '' } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ledger_unsigned');
  });

  it('GET /v1/audit/checkpoints pages newest first with a cursor', async () => {
    for (let i = 0; i < 3; i++) {
      await record();
      await req('/v1/audit/checkpoints', { method: 'POST' });
    }
    const first = (await (await req('/v1/audit/checkpoints?limit=2')).json()) as {
      data: Array<{ tree_size: number }>;
      next_cursor: string | null;
    };
    expect(first.data).toHaveLength(2);
    expect(first.data[0]!.tree_size).toBeGreaterThan(first.data[1]!.tree_size);
    expect(first.next_cursor).toBe(String(first.data[1]!.tree_size));
    const second = (await (
      await req(`/v1/audit/checkpoints?limit=2&cursor=${first.next_cursor}`)
    ).json()) as {
      data: Array<{ tree_size: number }>;
    };
    expect(second.data[0]!.tree_size).toBeLessThan(first.data[1]!.tree_size);
    expect((await req('/v1/audit/checkpoints?cursor=abc')).status).toBe(400);
  });

  it('the scheduled handler signs when the log grew and the interval passed, sends it to the witness, HMAC-signed', async () => {
    const witness = `${inject('webhookSinkUrl')}/hook/witness-${crypto.randomUUID()}`;
    const env = await ledgerEnv({
      LEDGER_CHECKPOINT_INTERVAL_SECONDS: '1',
      LEDGER_WITNESS_URL: witness,
      LEDGER_WITNESS_SECRET: 'witness-secret',
      // The sink listens on loopback: allowed explicitly, as for local development.
      LEDGER_WITNESS_ALLOW_PRIVATE: 'true',
    });
    await record();
    const tick = async () => {
      const ctx = createExecutionContext();
      await auditApp.scheduled(createScheduledController({ cron: '* * * * *' }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    await tick();
    const received = (await (await fetch(witness)).json()) as Array<{
      headers: Record<string, string>;
      body: string;
    }>;
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(headers['x-mas-signature']).toBe(
      `sha256=${await hmacHex('witness-secret', `${headers['x-mas-timestamp']}.${body}`)}`,
    );
    const latest = (await (await req('/v1/audit/checkpoint')).json()) as { note: string };
    expect(body).toBe(latest.note);
    // Not grown since: no new checkpoint, nothing sent.
    await tick();
    expect(((await (await fetch(witness)).json()) as unknown[]).length).toBe(1);
  });
});

describe('GET /v1/audit/verify?from=', () => {
  it('verifies from a seq on over the stored nodes, and refuses a from that is not a seq', async () => {
    await record();
    const whole = (await (await req('/v1/audit/verify')).json()) as { ok: boolean; tree_size: number };
    expect(whole.ok).toBe(true);
    const res = await req(`/v1/audit/verify?from=${whole.tree_size}`);
    expect(res.status).toBe(200);
    const tail = (await res.json()) as { ok: boolean; from_seq: number; checked: number };
    expect(tail.ok, JSON.stringify(tail)).toBe(true);
    expect(tail.from_seq).toBe(whole.tree_size);
    expect(tail.checked).toBeGreaterThanOrEqual(1);
    for (const bad of ['0', 'abc', '-3']) {
      const r = await req(`/v1/audit/verify?from=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(((await r.json()) as { error: { param: string } }).error.param).toBe('from');
    }
  });
});

describe('the witness URL', () => {
  it('refuses loopback, link-local and private targets unless LEDGER_WITNESS_ALLOW_PRIVATE=true', async () => {
    const sink = inject('webhookSinkUrl');
    for (const url of [
      'http://127.0.0.1:9/w',
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.5/w',
      'http://[::1]/w',
      'http://localhost/w',
      'http://witness.internal/w',
    ]) {
      const settings = getSettings(
        await ledgerEnv({ LEDGER_WITNESS_URL: url, LEDGER_WITNESS_ALLOW_PRIVATE: undefined }),
      );
      expect(await sendToWitness(settings, 'note\n'), url).toMatch(/^LEDGER_WITNESS_URL refused: /);
    }
    // Allowed explicitly, the same loopback sink receives the note.
    const target = `${sink}/hook/witness-${crypto.randomUUID()}`;
    const allowed = getSettings(
      await ledgerEnv({ LEDGER_WITNESS_URL: target, LEDGER_WITNESS_ALLOW_PRIVATE: 'true' }),
    );
    expect(await sendToWitness(allowed, 'note\n')).toBeNull();
    expect(((await (await fetch(target)).json()) as Array<{ body: string }>)[0]!.body).toBe('note\n');
    // Refused without the flag: nothing reaches it.
    const blocked = `${sink}/hook/witness-${crypto.randomUUID()}`;
    const refused = getSettings(
      await ledgerEnv({ LEDGER_WITNESS_URL: blocked, LEDGER_WITNESS_ALLOW_PRIVATE: undefined }),
    );
    expect(await sendToWitness(refused, 'note\n')).toMatch(/refused: a loopback/);
    expect(((await (await fetch(blocked)).json()) as unknown[]).length).toBe(0);
  });
});

describe('proofs', () => {
  it('an action’s inclusion proof verifies against the signed checkpoint; consistency between two checkpoints verifies', async () => {
    const id = await record();
    const first = (await (await req('/v1/audit/checkpoints', { method: 'POST' })).json()) as {
      tree_size: number;
      note: string;
    };
    await req(`/v1/audit/actions/${id}`, {
      method: 'PATCH',
      role: 'agent',
      body: JSON.stringify({ status: 'completed' }),
    });
    const second = (await (await req('/v1/audit/checkpoints', { method: 'POST' })).json()) as {
      tree_size: number;
      note: string;
    };
    const key = parseVerifierKey(TEST_LEDGER_KEY.verifier);
    const cp = (await openCheckpointNote(second.note, key))!;
    const proof = (await (
      await req(`/v1/audit/actions/${id}/proof?size=${second.tree_size}`, { role: 'agent' })
    ).json()) as {
      tree_size: number;
      entries: Array<{ leaf_index: number; row_hash: string; inclusion_proof: string[] }>;
    };
    expect(proof.tree_size).toBe(second.tree_size);
    expect(proof.entries).toHaveLength(2);
    for (const e of proof.entries) {
      expect(
        verifyInclusion(
          leafHash(e.row_hash),
          e.leaf_index,
          cp.size,
          e.inclusion_proof.map(fromBase64),
          cp.root,
        ),
      ).toBe(true);
    }
    const c = (await (
      await req(`/v1/audit/consistency?from=${first.tree_size}&to=${second.tree_size}`)
    ).json()) as {
      proof: string[];
    };
    const old = (await openCheckpointNote(first.note, key))!;
    expect(verifyConsistency(old.size, cp.size, c.proof.map(fromBase64), old.root, cp.root)).toBe(true);
    // Another agent does not see the action, and bad sizes are 400s.
    expect((await req(`/v1/audit/actions/${id}/proof`, { role: 'agent2' })).status).toBe(404);
    expect((await req(`/v1/audit/actions/${id}/proof?size=-1`)).status).toBe(400);
    expect((await req(`/v1/audit/actions/${id}/proof?size=999999999999`)).status).toBe(400);
    expect((await req('/v1/audit/consistency?from=5&to=2')).status).toBe(400);
  });
});

void parseCheckpointNote;
