/**
 * The TypeScript client as an agent script uses it, configured only by MAS_BASE_URL / MAS_API_KEY.
 * test/node/agent-clients.test.ts runs this file under Node and under Deno against `npm start`
 * and checks what it prints (one JSON line).
 */
import { ApprovalPending, createClient } from '../../clients/ts/src/index.ts';

const mas = createClient({ agent: { id: 'agent-1', name: 'Smoke' } });
const looked = await mas.gated(
  { action_type: 'lookup', category: 'read', inputs: { q: 'smoke' } },
  (ctx) => ({
    actionId: ctx.actionId,
  }),
);
const action = await mas.audit.getAction(looked.actionId);
const reply = await mas.llm.chat({ role: 'fast', messages: [{ role: 'user', content: 'hi' }] });
const members = await mas.integrations.mindex.getData<{ data: Array<{ name: string }> }>('members');
const held = await mas.integrations.mindex.deleteResource('projects', 'smoke').catch((e: unknown) => e);
console.log(
  JSON.stringify({
    runtime: 'Deno' in globalThis ? 'deno' : 'node',
    baseUrl: mas.baseUrl,
    actionStatus: action.status,
    reply: reply.choices[0]?.message,
    member: members.data[0]?.name,
    held: held instanceof ApprovalPending ? { approvalId: held.approvalId } : String(held),
  }),
);
