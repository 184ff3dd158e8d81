/**
 * @mas/client: agents' TypeScript client for mas-functions. fetch only, so it runs on Node,
 * Deno, Workers and browsers; typed from the routes' own zod schemas (src/generated/api.ts).
 */
export { type ApprovalRef, Approvals, type Approved, type WaitOptions } from './approvals.ts';
export {
  type ActionInput,
  Audit,
  type ChatInput,
  createClient,
  type GatedContext,
  type GatedOptions,
  Llm,
  MasClient,
} from './client.ts';
export {
  ApprovalError,
  ApprovalExpired,
  ApprovalPending,
  ApprovalRejected,
  ApprovalTimeout,
  MasConnectionError,
  MasError,
  OutcomeNotRecorded,
  type PendingRequest,
} from './errors.ts';
export type { CallOptions, CallResult, MasClientOptions } from './http.ts';
export {
  type IntegrationCallOptions,
  Integrations,
  MindexClient,
  NatureOSClient,
  WebsiteClient,
} from './integrations.ts';
export * from './types.ts';
