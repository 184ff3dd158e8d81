/**
 * Approvals: the only code that touches approval rows. Stable API, used by the audit route, the
 * integration proxy, the MCP gateway, the approvals page and the scheduled handler.
 *
 * Create (inside the caller's transaction, with the action's ledger entry; recordAction in
 * shared/audit/actions.ts does this and then announces it):
 *   createApproval(client, NewApproval)
 * Decide (manages its own short connections; 200 concurrent deciders get 200/409 replays):
 *   decideApproval(settings, approvalId, Decision, { principal, correlationId, traceId }) → ApprovalView
 *   decisionSchema: the one decision body (API and page)
 * Read:
 *   getApproval(client, id, viewer, receiptSecret?) → view (+ receipt for the requester, + inputs for approvers)
 *   approvalHistory(client, id, viewer) → { approval, entries }  (ledger entries of the action)
 *   listApprovals(client, { status, category, agent_id, limit, cursor }, viewer) → { data, next_cursor }
 * Redeem (single statement, single use, bound to action id + input hash, checks the action's state):
 *   redeemReceipt(client, { actionId, receipt, principal?, inputHash?, secret })
 * Expire / escalate (scheduled handler), each returning the events to announce:
 *   expireApprovals(client), escalateApprovals(client)
 * Notify (the one webhook sender: pending, decided, expired, escalated):
 *   notifierFor(c) / a Notifier; announce(notifier, event); announceDecision(notifier, approval)
 *   pendingEvent(...) builds the `approval.pending` event for a new approval.
 */
export {
  type ApprovalStatus,
  type ApprovalView,
  approvalHistory,
  createApproval,
  type DecideContext,
  type Decision,
  decideApproval,
  decisionSchema,
  escalateApprovals,
  eventApproval,
  expireApprovals,
  getApproval,
  type ListApprovalsQuery,
  listApprovals,
  listApprovalsQuerySchema,
  mayDecide,
  type NewApproval,
  waitQuerySchema,
} from './approvals.ts';
export {
  type ApprovalEvent,
  announce,
  announceDecision,
  type Notifier,
  notifierFor,
  sendApprovalWebhook,
  slackEscape,
  slackText,
  waitForDecision,
} from './notify.ts';
export { makeReceipt, type RedeemArgs, receiptMatches, redeemReceipt } from './receipts.ts';
