import { Approvals, type Approved, type WaitOptions } from './approvals.ts';
import { ApprovalError, ApprovalTimeout, MasError, OutcomeNotRecorded } from './errors.ts';
import { type MasClientOptions, Transport } from './http.ts';
import { Integrations } from './integrations.ts';
import type {
  Action,
  ActionList,
  ChatCompletion,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  ListActionsQuery,
  RecordActionRequest,
  RecordActionResponse,
  RecordActionsResponse,
  UpdateActionRequest,
  UpdateActionResponse,
} from './types.ts';

/** An action to record: `agent_id` / `agent_name` default to the client's `agent`. */
export type ActionInput = Omit<RecordActionRequest, 'agent_name'> &
  Partial<Pick<RecordActionRequest, 'agent_name'>>;

export class Audit {
  readonly #http: Transport;
  constructor(http: Transport) {
    this.#http = http;
  }

  /** Records an action before it is taken. Never retried: each call is a new action. */
  async logAction(action: ActionInput): Promise<RecordActionResponse> {
    // agent_id: the key's own principal unless named (it must then be an agent bound to the key).
    const body = this.#withAgent(action, 'logAction');
    return (await this.#http.call<RecordActionResponse>('POST', '/v1/audit/actions', { body })).data;
  }

  /**
   * Records up to 500 actions in one request, all or none (`POST /v1/audit/actions:batch`); the
   * results come back in the same order. Actions the policy gates are refused: log those one at a
   * time with logAction. Never retried.
   */
  async logActions(actions: ActionInput[]): Promise<RecordActionsResponse['data']> {
    const body = { actions: actions.map((a) => this.#withAgent(a, 'logActions')) };
    return (await this.#http.call<RecordActionsResponse>('POST', '/v1/audit/actions:batch', { body })).data
      .data;
  }

  #withAgent(action: ActionInput, caller: string): RecordActionRequest {
    const agent = this.#http.options.agent;
    const agentId = action.agent_id ?? agent?.id;
    const agentName = action.agent_name ?? agent?.name ?? agentId;
    if (!agentName)
      throw new TypeError(`${caller}: agent_name is required (or set the client option \`agent\`)`);
    return { ...action, ...(agentId ? { agent_id: agentId } : {}), agent_name: agentName };
  }

  /**
   * Marks how an action ended. A gated action completes only with its approval's receipt. Moves
   * are one-way (a replay gets 409, never a second entry), so this is retried like a read.
   */
  async updateAction(id: string, update: UpdateActionRequest): Promise<UpdateActionResponse> {
    const path = `/v1/audit/actions/${encodeURIComponent(id)}`;
    return (await this.#http.call<UpdateActionResponse>('PATCH', path, { body: update, idempotent: true }))
      .data;
  }

  async getAction(id: string): Promise<Action> {
    return (await this.#http.call<Action>('GET', `/v1/audit/actions/${encodeURIComponent(id)}`)).data;
  }

  async listActions(query: ListActionsQuery = {}): Promise<ActionList> {
    return (await this.#http.call<ActionList>('GET', '/v1/audit/actions', { query })).data;
  }
}

export type ChatInput = Omit<ChatCompletionRequest, 'model'> & { model?: string; role?: string };

export class Llm {
  readonly #http: Transport;
  constructor(http: Transport) {
    this.#http = http;
  }

  /** A chat completion for `role` (default planning) or `model`. The gateway retries and falls back. */
  async chat(input: ChatInput): Promise<ChatCompletion> {
    if ((input as { stream?: boolean }).stream) {
      throw new TypeError('llm.chat does not stream; use an OpenAI client on <baseUrl>/v1 for that');
    }
    const { role, model, ...rest } = input;
    const body = { ...rest, model: model ?? role ?? 'planning' };
    const headers = this.#agentHeader();
    return (await this.#http.call<ChatCompletion>('POST', '/v1/chat/completions', { body, headers })).data;
  }

  /** The embedding of `input` (role `embedding` unless `model`/`role` say otherwise). */
  embed(input: string, options?: { role?: string; model?: string }): Promise<number[]>;
  embed(input: string[], options?: { role?: string; model?: string }): Promise<number[][]>;
  async embed(input: string | string[], options: { role?: string; model?: string } = {}) {
    const body: EmbeddingsRequest = { input, model: options.model ?? options.role ?? 'embedding' };
    const headers = this.#agentHeader();
    const { data } = await this.#http.call<EmbeddingsResponse>('POST', '/v1/embeddings', { body, headers });
    const vectors = [...data.data].sort((a, b) => a.index - b.index).map((d) => d.embedding as number[]);
    return typeof input === 'string' ? vectors[0] : vectors;
  }

  /** Spend is counted for the client's agent (the key's own id or one bound to it). */
  #agentHeader(): Record<string, string> | undefined {
    const agent = this.#http.options.agent;
    return agent ? { 'x-mas-agent-id': agent.id } : undefined;
  }
}

export interface GatedContext {
  actionId: string;
  /** Present when the action was gated and approved. */
  receipt?: string;
  approval?: Approved['approval'];
}

export interface GatedOptions<T> extends WaitOptions {
  /** What to record as the outputs (default: the result, when it is JSON). */
  outputs?: (result: T) => unknown;
}

export class MasClient {
  readonly audit: Audit;
  readonly approvals: Approvals;
  readonly llm: Llm;
  readonly integrations: Integrations;
  readonly #http: Transport;

  constructor(options: MasClientOptions = {}) {
    this.#http = new Transport(options);
    this.audit = new Audit(this.#http);
    this.approvals = new Approvals(this.#http);
    this.llm = new Llm(this.#http);
    this.integrations = new Integrations(this.#http, this.approvals);
  }

  get baseUrl(): string {
    return this.#http.baseUrl;
  }

  /**
   * Record the action, wait for approval if policy requires it, run `fn` with the receipt, and
   * mark the action completed (with its outputs) or failed (with the error), in one call.
   * A rejection, expiry or timeout throws before `fn` runs, and the action is marked cancelled.
   * Destructurable: `const { gated } = mas`.
   */
  gated = async <T>(
    action: ActionInput,
    fn: (ctx: GatedContext) => Promise<T> | T,
    options: GatedOptions<T> = {},
  ): Promise<T> => {
    const recorded = await this.audit.logAction(action);
    const ctx: GatedContext = { actionId: recorded.action_id };
    if (recorded.status === 'pending_approval') {
      try {
        const approved = await this.approvals.waitFor(recorded, options);
        ctx.receipt = approved.receipt;
        ctx.approval = approved.approval;
      } catch (err) {
        if (err instanceof ApprovalError) {
          const why = err instanceof ApprovalTimeout ? 'gave up waiting for approval' : err.message;
          await this.audit
            .updateAction(ctx.actionId, { status: 'cancelled', error: why })
            .catch(() => undefined); // the approval's own state already tells the story
        }
        throw err;
      }
    }
    let result: T;
    try {
      result = await fn(ctx);
    } catch (err) {
      await this.audit
        .updateAction(ctx.actionId, { status: 'failed', error: errorText(err) })
        .catch(() => undefined); // the caller's error matters more than the bookkeeping
      throw err;
    }
    const outputs = options.outputs ? options.outputs(result) : jsonOrUndefined(result);
    try {
      await this.audit.updateAction(ctx.actionId, {
        status: 'completed',
        ...(outputs === undefined ? {} : { outputs }),
        ...(ctx.receipt ? { receipt: ctx.receipt } : {}),
      });
    } catch (err) {
      throw err instanceof MasError ? new OutcomeNotRecorded(err, result) : err;
    }
    return result;
  };
}

export function createClient(options: MasClientOptions = {}): MasClient {
  return new MasClient(options);
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.slice(0, 4000);
}

/** The result as recordable JSON, or undefined when it is not JSON (a function, a stream...). */
function jsonOrUndefined(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
