import { describe, expect, it } from 'vitest';
import { openCheckpointNote, parseVerifierKey } from '../../shared/audit/ledger-note.ts';
import { fromBase64, leafHash, verifyInclusion } from '../../shared/audit/ledger-tree.ts';
import { adminSql, bearer, call, type KEYS, testEnv } from '../../test/workers/helpers.ts';
import auditApp from './index.ts';

/** The fixed test key of ledger.test.ts: checkpoints of `main` verify under it. */
const TEST_LEDGER_KEY = {
  signer: 'PRIVATE+KEY+test.mas/ledger+ae1cfbb6+AQD9wRfVSO4Js2OJlJSNpy7EFIG16xuaaj3w54CJwRwQ',
  verifier: 'test.mas/ledger+ae1cfbb6+ASVnP7z1hSaa4z5vEdcOJ0fHwasyNXYVYIWn3LXMz8tZ',
};

async function req(path: string, init: RequestInit & { role?: keyof typeof KEYS } = {}) {
  const { role = 'agent', ...rest } = init;
  return call(auditApp, path, {
    ...rest,
    headers: { 'content-type': 'application/json', ...bearer(role), ...(rest.headers ?? {}) },
    env: await testEnv({ LEDGER_SIGNING_KEY: TEST_LEDGER_KEY.signer }),
  });
}

const batch = (actions: unknown[], role: keyof typeof KEYS = 'agent') =>
  req('/v1/audit/actions:batch', { method: 'POST', role, body: JSON.stringify({ actions }) });

const action = (run: string, n: number, over: Record<string, unknown> = {}) => ({
  agent_id: 'agent-1',
  agent_name: 'Batcher',
  action_type: 'search',
  category: 'read',
  inputs: { n },
  correlation_id: `${run}-${String(n).padStart(4, '0')}`,
  ...over,
});

/** Ledger entries and action states written under correlation ids `<run>-*`. */
const written = async (run: string) => {
  const [row] = await adminSql<{ n: number }>(
    `select (select count(*) from audit.action_logs where correlation_id like $1)::int
          + (select count(*) from audit.actions where correlation_id like $1)::int as n`,
    [`${run}-%`],
  );
  return row!.n;
};

const newRun = () => `batch-${crypto.randomUUID().slice(0, 8)}`;

interface ErrorBody {
  error: { code: string; param: string | null; message: string };
}

describe('POST /v1/audit/actions:batch', () => {
  it('records every action in order, in one statement; each row is sealed and proven in a signed tree', async () => {
    const run = newRun();
    const actions = Array.from({ length: 25 }, (_, n) => action(run, n));
    const res = await batch(actions);
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      data: Array<{ action_id: string; status: string; category: string; policy_rule: string }>;
    };
    expect(body.data).toHaveLength(25);
    expect(new Set(body.data.map((d) => d.action_id)).size).toBe(25);
    expect(body.data.every((d) => d.status === 'recorded' && d.category === 'read')).toBe(true);
    // Ids come back in the order of the request: item n's id is the action with correlation id n.
    const rows = await adminSql<{ action_id: string; correlation_id: string; principal: string }>(
      'select action_id, correlation_id, principal from audit.action_logs where correlation_id like $1 order by correlation_id',
      [`${run}-%`],
    );
    expect(rows.map((r) => r.action_id)).toEqual(body.data.map((d) => d.action_id));
    expect(rows.every((r) => r.principal === 'agent-1')).toBe(true);

    const cp = await req('/v1/audit/checkpoints', { method: 'POST', role: 'admin' });
    expect([200, 201]).toContain(cp.status);
    const note = ((await cp.json()) as { note: string }).note;
    const opened = await openCheckpointNote(note, parseVerifierKey(TEST_LEDGER_KEY.verifier));
    expect(opened).not.toBeNull();
    for (const { action_id } of [body.data[0]!, body.data[24]!]) {
      const proof = (await (
        await req(`/v1/audit/actions/${action_id}/proof?size=${opened!.size}`, { method: 'GET' })
      ).json()) as {
        entries: Array<{ leaf_index: number; row_hash: string; inclusion_proof: string[] }>;
      };
      expect(proof.entries).toHaveLength(1);
      const e = proof.entries[0]!;
      expect(
        verifyInclusion(
          leafHash(e.row_hash),
          e.leaf_index,
          opened!.size,
          e.inclusion_proof.map(fromBase64),
          opened!.root,
        ),
      ).toBe(true);
    }
    // The whole log, these rows included, recomputes from the rows.
    const verify = (await (await req('/v1/audit/verify', { method: 'GET', role: 'admin' })).json()) as {
      ok: boolean;
    };
    expect(verify.ok, JSON.stringify(verify)).toBe(true);
  });

  it('500 actions are accepted; 501 are refused with 413 and nothing is written', async () => {
    const run = newRun();
    const ok = await batch(Array.from({ length: 500 }, (_, n) => action(run, n)));
    expect(ok.status).toBe(201);
    expect(await written(run)).toBe(1000);

    const over = newRun();
    const res = await batch(Array.from({ length: 501 }, (_, n) => action(over, n)));
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: 'batch_too_large',
      param: 'actions',
    });
    expect(await written(over)).toBe(0);
  });

  it('one invalid action fails the batch with its index, and nothing is written', async () => {
    const cases: Array<{ bad: Record<string, unknown>; status: number; code: string; param: RegExp }> = [
      // Schema: an unknown field.
      { bad: { surprise: true }, status: 400, code: 'invalid_request', param: /^actions\.7/ },
      // The registry's input schema for bank.pay (named field).
      {
        bad: { tool_name: 'bank.pay', inputs: { payment: { amount: 'lots' } } },
        status: 400,
        code: 'invalid_inputs',
        param: /^actions\.7\.inputs\./,
      },
      // Identity: an agent id not bound to the key.
      { bad: { agent_id: 'someone-else' }, status: 403, code: 'agent_mismatch', param: /^actions\.7/ },
      // A gated action: its approval cannot be part of a batch.
      {
        bad: {
          tool_name: 'bank.pay',
          category: 'financial',
          inputs: { payment: { amount: 5000, currency: 'EUR', to: 'x' } },
        },
        status: 400,
        code: 'approval_required',
        param: /^actions\.7$/,
      },
    ];
    for (const { bad, status, code, param } of cases) {
      const run = newRun();
      const actions = Array.from({ length: 10 }, (_, n) => action(run, n, n === 7 ? bad : {}));
      const res = await batch(actions);
      const body = (await res.json()) as ErrorBody;
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(body.error.code).toBe(code);
      expect(body.error.param).toMatch(param);
      expect(await written(run)).toBe(0);
    }
  });

  it('refuses an empty batch, a body without actions, and roles that may not record', async () => {
    expect((await batch([])).status).toBe(400);
    const res = await req('/v1/audit/actions:batch', { method: 'POST', body: JSON.stringify({}) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.param).toBe('actions');
    const run = newRun();
    expect((await batch([action(run, 0)], 'approver')).status).toBe(403);
    expect(await written(run)).toBe(0);
  });
});
