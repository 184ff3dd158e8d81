import type { Approvals, WaitOptions } from './approvals.ts';
import { ApprovalPending, type PendingRequest } from './errors.ts';
import type { Transport } from './http.ts';

export interface IntegrationCallOptions {
  json?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** The gateway retries a write upstream only when it carries one. */
  idempotencyKey?: string;
  /** A write that policy holds: wait for the decision and send it again (else ApprovalPending). */
  waitForApproval?: boolean | WaitOptions;
}

type Query = IntegrationCallOptions['query'];

interface HeldWrite {
  status: 'pending_approval';
  action_id: string;
  approval: { id: string; expires_at: string };
}

const segment = (s: string | number) => encodeURIComponent(String(s));

/**
 * `/v1/integrations/{name}/...`: the gateway injects the credential, audits writes and holds
 * risky ones for a human. Reads are retried; writes never are (each is its own audited action).
 */
export class Integrations {
  readonly mindex: MindexClient;
  readonly natureos: NatureOSClient;
  readonly website: WebsiteClient;

  readonly #http: Transport;
  readonly #approvals: Approvals;

  constructor(http: Transport, approvals: Approvals) {
    this.#http = http;
    this.#approvals = approvals;
    this.mindex = new MindexClient(this);
    this.natureos = new NatureOSClient(this);
    this.website = new WebsiteClient(this);
  }

  async request<T = unknown>(
    integration: string,
    method: string,
    path: string,
    options: IntegrationCallOptions = {},
  ): Promise<T> {
    if (!path.startsWith('/')) throw new TypeError(`path must start with '/': ${path}`);
    method = method.toUpperCase();
    const headers: Record<string, string> = { ...options.headers };
    const agent = this.#http.options.agent;
    if (agent) {
      headers['x-mas-agent-id'] = agent.id;
      if (agent.name) headers['x-mas-agent-name'] = agent.name;
    }
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const request: PendingRequest = {
      integration,
      method,
      path,
      json: options.json,
      query: options.query,
      headers,
    };
    const { status, data } = await this.send(request);
    const held = data as HeldWrite | undefined;
    if (status === 202 && held?.status === 'pending_approval') {
      const pending = new ApprovalPending(
        `${integration} ${method} ${path} waits for approval ${held.approval.id}`,
        held.approval.id,
        held.action_id,
        request,
      );
      if (!options.waitForApproval) throw pending;
      return this.resume<T>(pending, options.waitForApproval === true ? {} : options.waitForApproval);
    }
    return data as T;
  }

  /** Waits for the decision on a held write, then sends exactly the same request with the receipt. */
  async resume<T = unknown>(pending: ApprovalPending, options: WaitOptions = {}): Promise<T> {
    if (!pending.request) throw new TypeError('this ApprovalPending did not come from an integration write');
    const { receipt } = await this.#approvals.waitFor({ approvalId: pending.approvalId }, options);
    const request = {
      ...pending.request,
      headers: {
        ...pending.request.headers,
        'x-mas-action-id': pending.actionId ?? '',
        'x-mas-approval-receipt': receipt,
      },
    };
    return (await this.send(request)).data as T;
  }

  private send(r: PendingRequest) {
    return this.#http.call(r.method, `/v1/integrations/${segment(r.integration)}${r.path}`, {
      body: r.json,
      query: r.query,
      headers: r.headers,
    });
  }
}

type Json = Record<string, unknown>;

export class MindexClient {
  readonly #i: Integrations;
  constructor(integrations: Integrations) {
    this.#i = integrations;
  }
  getData<T = Json>(resource: string, query?: Query) {
    return this.#i.request<T>('mindex', 'GET', `/data/${segment(resource)}`, { query });
  }
  getResource<T = Json>(resource: string, id: string | number) {
    return this.#i.request<T>('mindex', 'GET', `/resources/${segment(resource)}/${segment(id)}`);
  }
  createResource<T = Json>(resource: string, body: Json, options: IntegrationCallOptions = {}) {
    return this.#i.request<T>('mindex', 'POST', `/resources/${segment(resource)}`, {
      ...options,
      json: body,
    });
  }
  updateResource<T = Json>(
    resource: string,
    id: string | number,
    body: Json,
    options: IntegrationCallOptions = {},
  ) {
    const path = `/resources/${segment(resource)}/${segment(id)}`;
    return this.#i.request<T>('mindex', 'PUT', path, { ...options, json: body });
  }
  deleteResource<T = Json>(resource: string, id: string | number, options: IntegrationCallOptions = {}) {
    return this.#i.request<T>('mindex', 'DELETE', `/resources/${segment(resource)}/${segment(id)}`, options);
  }
}

export class NatureOSClient {
  readonly #i: Integrations;
  constructor(integrations: Integrations) {
    this.#i = integrations;
  }
  getEntities<T = Json>(kind: string, query?: Query) {
    return this.#i.request<T>('natureos', 'GET', `/entities/${segment(kind)}`, { query });
  }
  getEntity<T = Json>(kind: string, id: string | number) {
    return this.#i.request<T>('natureos', 'GET', `/entities/${segment(kind)}/${segment(id)}`);
  }
  createEntity<T = Json>(kind: string, body: Json, options: IntegrationCallOptions = {}) {
    return this.#i.request<T>('natureos', 'POST', `/entities/${segment(kind)}`, { ...options, json: body });
  }
  getDevices<T = Json>(query?: Query) {
    return this.#i.request<T>('natureos', 'GET', '/devices/', { query });
  }
  sendDeviceCommand<T = Json>(deviceId: string, command: Json, options: IntegrationCallOptions = {}) {
    const path = `/devices/${segment(deviceId)}/commands`;
    return this.#i.request<T>('natureos', 'POST', path, { ...options, json: command });
  }
}

export class WebsiteClient {
  readonly #i: Integrations;
  constructor(integrations: Integrations) {
    this.#i = integrations;
  }
  getPage<T = Json>(slug: string) {
    return this.#i.request<T>('website', 'GET', `/pages/${segment(slug)}`);
  }
  createPost<T = Json>(post: { title: string; body: string } & Json, options: IntegrationCallOptions = {}) {
    return this.#i.request<T>('website', 'POST', '/posts/', { ...options, json: post });
  }
}
