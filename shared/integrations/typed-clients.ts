import * as z from 'zod';
import { type IntegrationClient, IntegrationError } from './client.ts';
import { readBoundedResponse } from './response-limit.ts';

/**
 * Typed clients on top of IntegrationClient, for other functions and for agents' TypeScript
 * code. Responses are parsed with minimal zod schemas: fields we do not use pass through.
 */
async function json<S extends z.ZodType>(
  client: IntegrationClient,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
  idempotencyKey?: string,
) {
  const { response } = await client.request(method, path, {
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    idempotencyKey,
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new IntegrationError(
      client.options.name,
      'upstream',
      `${client.options.name} answered ${response.status}`,
      response.status,
    );
  }
  const max = client.options.maxResponseBytes;
  const parsed: unknown =
    max === undefined
      ? await response.json()
      : JSON.parse(new TextDecoder().decode(await readBoundedResponse(client.options.name, response, max)));
  return schema.parse(parsed) as z.infer<S>;
}

const segment = (s: string) => encodeURIComponent(s);

export class MindexClient {
  private readonly client: IntegrationClient;
  constructor(client: IntegrationClient) {
    this.client = client;
  }
  getData(resource: string) {
    return json(
      this.client,
      'GET',
      `/data/${segment(resource)}`,
      z.looseObject({ data: z.array(z.unknown()) }),
    );
  }
  createResource(resource: string, body: Record<string, unknown>, idempotencyKey?: string) {
    return json(
      this.client,
      'POST',
      `/resources/${segment(resource)}`,
      z.looseObject({}),
      body,
      idempotencyKey,
    );
  }
}

export class NatureOSClient {
  private readonly client: IntegrationClient;
  constructor(client: IntegrationClient) {
    this.client = client;
  }
  getEntities(kind: string) {
    return json(
      this.client,
      'GET',
      `/entities/${segment(kind)}`,
      z.looseObject({ entities: z.array(z.looseObject({ id: z.string() })) }),
    );
  }
}

export class WebsiteClient {
  private readonly client: IntegrationClient;
  constructor(client: IntegrationClient) {
    this.client = client;
  }
  getPage(slug: string) {
    return json(this.client, 'GET', `/pages/${segment(slug)}`, z.looseObject({}));
  }
  createPost(body: { title: string; body: string }, idempotencyKey?: string) {
    return json(this.client, 'POST', '/posts/', z.looseObject({}), body, idempotencyKey);
  }
}
