import type { Principal } from '../auth/api-keys.ts';
import { AppError } from '../errors/index.ts';

/**
 * The agent an action is recorded as. An agent key records as its own principal id, or as one
 * of the agent ids bound to it (`npm run keys -- create --role agent --id X --agents a,b`);
 * anything else is 403 `agent_mismatch`, before anything is written. Admins may record on
 * behalf of any agent (the row keeps both: `principal` is the admin, `agent_id` the agent).
 */
export function actingAgent(principal: Principal, claimed: string | undefined, param = 'agent_id'): string {
  if (claimed === undefined || claimed === principal.id) return principal.id;
  if (principal.role === 'admin' || principal.agents?.includes(claimed)) return claimed;
  throw new AppError(
    403,
    'agent_mismatch',
    `This key belongs to '${principal.id}' and may not act as another agent; bind agent ids to the key with npm run keys -- create --agents.`,
    { param },
  );
}
