/**
 * The wire types, picked out of the generated operations (src/generated/api.ts, from the routes'
 * zod schemas). Type-only: nothing here exists at run time.
 */
import type { operations } from './generated/api.ts';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Body<O extends keyof operations> = operations[O] extends { requestBody?: infer R }
  ? Json<NonNullable<R>>
  : never;
type Ok<O extends keyof operations, S extends number = 200> = operations[O] extends {
  responses: infer R;
}
  ? S extends keyof R
    ? Json<R[S]>
    : never
  : never;
type Query<O extends keyof operations> = operations[O] extends { parameters: { query?: infer Q } }
  ? NonNullable<Q>
  : never;

export type RecordActionRequest = Body<'recordAction'>;
export type RecordActionResponse = Ok<'recordAction', 201>;
export type RecordActionsResponse = Ok<'recordActions', 201>;
export type UpdateActionRequest = Body<'updateAction'>;
export type UpdateActionResponse = Ok<'updateAction'>;
export type Action = Ok<'getAction'>;
export type ListActionsQuery = Query<'listActions'>;
export type ActionList = Ok<'listActions'>;
export type Approval = Ok<'getApproval'>;
export type ListApprovalsQuery = Query<'listApprovals'>;
export type ApprovalList = Ok<'listApprovals'>;
export type DecisionRequest = Body<'decideApproval'>;
export type Decision = Ok<'decideApproval'>;
export type ChatCompletionRequest = Body<'createChatCompletion'>;
export type ChatCompletion = Ok<'createChatCompletion'>;
export type EmbeddingsRequest = Body<'createEmbeddings'>;
export type EmbeddingsResponse = Ok<'createEmbeddings'>;
export type ApiError = Json<operations['recordAction']['responses'][400]>;

/** The categories of the contract; which ones wait for a human is server-side policy. */
export const ActionCategory = {
  READ: 'read',
  INTERNAL_WRITE: 'internal_write',
  EXTERNAL_WRITE: 'external_write',
  FINANCIAL: 'financial',
  DESTRUCTIVE: 'destructive',
  SECURITY: 'security',
} as const;
export type ActionCategory = (typeof ActionCategory)[keyof typeof ActionCategory];

/** The roles of config/models.yaml (a test keeps them equal); `role:<name>` reaches any other. */
export const ModelRole = {
  PLANNING: 'planning',
  EXECUTION: 'execution',
  FAST: 'fast',
  EMBEDDING: 'embedding',
  FALLBACK: 'fallback',
  LOCAL: 'local',
} as const;
export type ModelRole = (typeof ModelRole)[keyof typeof ModelRole];
