import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import {
  ActionCategory,
  ApprovalPending,
  ApprovalRejected,
  ApprovalTimeout,
  createClient,
  type MasClient,
  MasError,
  ModelRole,
} from '../../clients/ts/src/index.ts';
import app from '../../functions/index.ts';
import type { Env } from '../../shared/env.ts';
import { KEYS, testEnv } from './helpers.ts';

// The TypeScript client inside workerd, pointed at the whole product (functions/index.ts) through
// the fetch it takes, against the real Postgres and Redis and the protocol fakes.
const integrationsFake = inject('integrationsFakeUrl');
const openaiFake = inject('openaiFakeUrl');

const env = () =>
  testEnv({
    MINDEX_API_URL: `${integrationsFake}/mindex`,
    MINDEX_API_KEY: 'mindex-ts-client-key-0000',
    NATUREOS_API_URL: `${integrationsFake}/natureos`,
    NATUREOS_API_KEY: 'natureos-ts-client-key-0000',
    WEBSITE_API_URL: `${integrationsFake}/website`,
    WEBSITE_API_KEY: 'website-ts-client-key-0000',
    // What `npm start` does without provider keys: every role answers from the OpenAI fake.
    LLM_BASE_URL: `${openaiFake}/v1`,
    LLM_DEFAULT_PROVIDER: 'openai_compatible',
    LLM_MODEL_PLANNING: 'ok',
    LLM_MODEL_FAST: 'ok',
    LLM_MODEL_EMBEDDING: 'demo-embed-768',
  });

/** A fetch that serves from the worker, as a service binding would; `before` may answer first. */
function workerFetch(e: Env, before?: (request: Request) => Response | undefined) {
  return async (request: Request) => {
    const early = before?.(request);
    if (early) return early;
    const ctx = createExecutionContext();
    const res = await app.fetch(request, e, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
}

async function clients(options: { correlationId?: () => string | undefined } = {}) {
  const e = await env();
  const common = { baseUrl: 'http://mas.test', fetch: workerFetch(e) };
  return {
    agent: createClient({
      ...common,
      apiKey: KEYS.agent,
      agent: { id: 'agent-1', name: 'TS Agent' },
      ...options,
    }),
    approver: createClient({ ...common, apiKey: KEYS.approver }),
  };
}

type Seen = Array<{ method: string; path: string; headers: Record<string, string>; body: string }>;
const seen = async () => (await (await fetch(`${integrationsFake}/__requests`)).json()) as Seen;

/** Polls the approver's queue until an approval whose inputs mention `marker` shows up. */
async function pendingApproval(approver: MasClient, marker: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = (await approver.approvals.list({ status: 'pending' })).find((a) =>
      JSON.stringify(a).includes(marker),
    );
    if (found) return found.id;
    if (Date.now() > deadline) throw new Error(`no pending approval mentioning ${marker}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('gated(action, fn)', () => {
  it('records, waits for the approval given here, runs fn with the receipt, and completes', async () => {
    const { agent, approver } = await clients();
    const marker = `ts-gated-${crypto.randomUUID()}`;
    let ran: { actionId: string; receipt?: string } | undefined;
    const approving = pendingApproval(approver, marker).then((id) =>
      approver.approvals.approve(id, 'looks right'),
    );
    const result = await agent.gated(
      {
        action_type: 'send_email',
        category: ActionCategory.EXTERNAL_WRITE,
        tool_name: 'send_email',
        inputs: { to: 'user@example.com', marker },
      },
      async (ctx) => {
        ran = ctx;
        return { sent: true, id: 42 };
      },
    );
    expect((await approving).status).toBe('approved');
    expect(result).toEqual({ sent: true, id: 42 });
    expect(ran?.receipt).toMatch(/\S{16,}/);
    const action = await agent.audit.getAction(ran!.actionId);
    expect(action.status).toBe('completed');
    expect(action.agent_id).toBe('agent-1');
    const last = action.entries.at(-1) as { status: string; outputs: unknown };
    expect(last).toMatchObject({ status: 'completed', outputs: { sent: true, id: 42 } });
    expect(action.entries.map((e) => e.entry_type)).toContain('decision');
  });

  it('a rejection reaches the agent with the reason, fn never runs, and the action is cancelled', async () => {
    const { agent, approver } = await clients();
    const marker = `ts-reject-${crypto.randomUUID()}`;
    const rejecting = pendingApproval(approver, marker).then((id) =>
      approver.approvals.reject(id, 'not to customers on a Sunday'),
    );
    let ran = false;
    const outcome = agent.gated(
      { action_type: 'send_email', category: 'external_write', inputs: { marker } },
      () => {
        ran = true;
      },
    );
    const err = await outcome.then(
      () => undefined,
      (e: unknown) => e,
    );
    await rejecting;
    expect(err).toBeInstanceOf(ApprovalRejected);
    expect((err as ApprovalRejected).reason).toBe('not to customers on a Sunday');
    expect(ran).toBe(false);
    const action = await agent.audit.getAction((err as ApprovalRejected).actionId!);
    expect(action.status).toBe('cancelled');
  });

  it('an ungated action runs at once; fn failing marks it failed and rethrows', async () => {
    const { agent } = await clients();
    let actionId = '';
    const boom = new Error('disk full');
    await expect(
      agent.gated({ action_type: 'lookup', category: 'read', inputs: { q: 'x' } }, (ctx) => {
        actionId = ctx.actionId;
        expect(ctx.receipt).toBeUndefined();
        throw boom;
      }),
    ).rejects.toBe(boom);
    const action = await agent.audit.getAction(actionId);
    expect(action.status).toBe('failed');
    expect((action.entries.at(-1) as { error: string }).error).toContain('disk full');
  });

  it('gives up after timeoutMs with ApprovalTimeout and cancels the action', async () => {
    const { agent } = await clients();
    const err = await agent
      .gated({ action_type: 'drop_table', category: 'destructive', inputs: { t: 'x' } }, () => 'ran', {
        timeoutMs: 1000,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalTimeout);
    const action = await agent.audit.getAction((err as ApprovalTimeout).actionId!);
    expect(action.status).toBe('cancelled');
  });
});

describe('audit, approvals, llm', () => {
  it('logActions records a batch in order, and a gated item refuses the whole batch', async () => {
    const { agent } = await clients();
    const results = await agent.audit.logActions([
      { action_type: 'lookup', category: 'read', inputs: { n: 1 } },
      { action_type: 'lookup', category: 'read', inputs: { n: 2 } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['recorded', 'recorded']);
    const got = await agent.audit.getAction(results[1]!.action_id);
    expect(got.status).toBe('recorded');
    const refused = await agent.audit
      .logActions([
        { action_type: 'lookup', category: 'read', inputs: {} },
        { action_type: 'tool_call', category: 'external_write', inputs: { tool: 'send_email' } },
      ])
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, code: 'approval_required' });
  });

  it('logAction + approvals.waitFor + updateAction with the receipt, by hand', async () => {
    const { agent, approver } = await clients();
    const recorded = await agent.audit.logAction({
      agent_id: 'agent-1',
      agent_name: 'TS Agent',
      action_type: 'tool_call',
      category: 'external_write',
      inputs: { tool: 'send_email' },
    });
    expect(recorded.status).toBe('pending_approval');
    const waiting = agent.approvals.waitFor(recorded);
    await approver.approvals.approve(recorded.approval!.id);
    const { receipt, approval } = await waiting;
    expect(approval.status).toBe('approved');
    const early = await agent.audit
      .updateAction(recorded.action_id, { status: 'completed' })
      .catch((e: unknown) => e);
    expect(early).toMatchObject({ status: 409, code: 'receipt_required' });
    const done = await agent.audit.updateAction(recorded.action_id, { status: 'completed', receipt });
    expect(done.status).toBe('completed');
  });

  it("errors carry the gateway's status, code and correlation id", async () => {
    const { agent } = await clients({ correlationId: () => 'ts-client-corr-0001' });
    const err = await agent.audit.getAction(crypto.randomUUID()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MasError);
    expect(err).toMatchObject({
      status: 404,
      code: 'action_not_found',
      correlationId: 'ts-client-corr-0001',
    });
    const bad = await agent.audit
      .logAction({ action_type: '', category: 'read', inputs: {} })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, param: 'action_type' });
  });

  it('the correlation id reaches the ledger', async () => {
    const cid = `ts-corr-${crypto.randomUUID().slice(0, 12)}`;
    const { agent } = await clients({ correlationId: () => cid });
    const recorded = await agent.audit.logAction({ action_type: 'lookup', category: 'read', inputs: {} });
    const listed = await agent.audit.listActions({ correlation_id: cid });
    expect(listed.data.map((a) => a.action_id)).toEqual([recorded.action_id]);
  });

  it('retries reads on a 503 blip, never writes', async () => {
    const e = await env();
    let blips = 0;
    const flaky = createClient({
      baseUrl: 'http://mas.test',
      apiKey: KEYS.agent,
      agent: { id: 'agent-1' },
      fetch: workerFetch(e, () => {
        if (blips++ > 0) return undefined;
        return Response.json(
          { error: { message: 'busy', type: 'server_error', code: 'busy', param: null } },
          { status: 503 },
        );
      }),
    });
    const list = await flaky.audit.listActions({ limit: 1 });
    expect(list.data.length).toBeLessThanOrEqual(1);
    expect(blips).toBe(2);
    blips = 0;
    const err = await flaky.audit
      .logAction({ action_type: 'lookup', category: 'read', inputs: {} })
      .catch((x: unknown) => x);
    expect(err).toMatchObject({ status: 503, code: 'busy' });
    expect(blips).toBe(1);
  });

  it('llm.chat by role and llm.embed', async () => {
    const { agent } = await clients();
    const reply = await agent.llm.chat({
      role: ModelRole.PLANNING,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(reply.choices[0]?.message).toMatchObject({ content: 'Hello from the fake.' });
    const one = await agent.llm.embed('text to embed');
    expect(one.length).toBe(768);
    const two = await agent.llm.embed(['a', 'b']);
    expect(two).toHaveLength(2);
  });

  it("LLM calls are made for the client's agent, which must be the key's", async () => {
    const e = await env();
    const stranger = createClient({
      baseUrl: 'http://mas.test',
      apiKey: KEYS.agent,
      agent: { id: 'agent-2' }, // another principal's agent, not bound to this key
      fetch: workerFetch(e),
    });
    const err = await stranger.llm
      .chat({ messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    expect(err).toMatchObject({ status: 403, code: 'agent_mismatch' });
  });
});

describe('integrations through the proxy', () => {
  it('reads from the fake MINDEX and NatureOS with the credential injected by the gateway', async () => {
    const { agent } = await clients();
    const data = await agent.integrations.mindex.getData<{ data: Array<{ name: string }> }>('members');
    expect(data.data[0]?.name).toBe('members');
    const entities = await agent.integrations.natureos.getEntities<{ entities: Array<{ kind: string }> }>(
      'organisms',
    );
    expect(entities.entities[0]?.kind).toBe('organisms');
    const read = (await seen()).filter((r) => r.path === '/mindex/data/members').at(-1)!;
    expect(read.headers.authorization).toBe('Bearer mindex-ts-client-key-0000');
    expect(JSON.stringify(read.headers)).not.toContain(KEYS.agent);
  });

  it('a gated write is held (ApprovalPending), then resumed with the receipt once approved', async () => {
    const { agent, approver } = await clients();
    const id = `ts-${crypto.randomUUID().slice(0, 8)}`;
    const pending = await agent.integrations.mindex.deleteResource('projects', id).catch((e: unknown) => e);
    expect(pending).toBeInstanceOf(ApprovalPending);
    const path = `/mindex/resources/projects/${id}`;
    expect((await seen()).filter((r) => r.path === path)).toHaveLength(0);
    await approver.approvals.approve((pending as ApprovalPending).approvalId);
    const result = await agent.integrations.resume<{ method: string }>(pending as ApprovalPending);
    expect(result.method).toBe('DELETE');
    expect((await seen()).filter((r) => r.path === path).map((r) => r.method)).toEqual(['DELETE']);
  });

  it('waitForApproval: a held NatureOS write goes through once approved', async () => {
    const { agent, approver } = await clients();
    const device = `dev-${crypto.randomUUID().slice(0, 8)}`;
    const approving = pendingApproval(approver, device).then((a) => approver.approvals.approve(a));
    const result = await agent.integrations.natureos.sendDeviceCommand<{ path: string }>(
      device,
      { command: 'reboot' },
      { waitForApproval: true },
    );
    await approving;
    expect(result.path).toBe(`/natureos/devices/${device}/commands`);
    const sent = (await seen()).filter((r) => r.path === result.path);
    expect(sent.map((r) => JSON.parse(r.body))).toEqual([{ command: 'reboot' }]);
    expect(sent[0]?.headers['x-api-key']).toBe('natureos-ts-client-key-0000');
  });
});
