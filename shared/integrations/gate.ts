import { type RedeemArgs, redeemReceipt } from '../approvals/index.ts';
import { inputHash } from '../audit/ledger-hash.ts';
import type { Client } from '../db/postgres.ts';
import { redactSecrets } from '../redact/index.ts';

/** What an integration write is recorded and approved as: redacted, and hashed the same way. */
export function requestSummary(parts: {
  integration: string;
  method: string;
  path: string;
  query: string;
  body: unknown;
}) {
  return redactSecrets<Record<string, unknown>>(parts, { emails: true }).value;
}

/**
 * The retry of a gated write: the receipt must belong to this principal's approved action, to
 * exactly these (redacted) inputs, and to an action still waiting on it (not cancelled); it works
 * once. Redeemed before the call is forwarded (shared/approvals' one redemption statement), so
 * two concurrent retries cannot both go through, and a cancel after this is refused.
 */
export function redeemProxyReceipt(
  client: Client,
  args: Omit<RedeemArgs, 'inputHash'> & { summary: Record<string, unknown> },
): Promise<void> {
  const { summary, ...rest } = args;
  return redeemReceipt(client, { ...rest, inputHash: inputHash(summary) });
}
