/**
 * `npm run openapi`: writes docs/openapi.json (OpenAPI 3.1) from the zod schemas the routes
 * validate with, so the reference cannot drift from what the code accepts. `--check` (and a
 * test) fails when the committed file is stale. Built here, at build time, rather than with a
 * runtime OpenAPI router: the functions stay small and the combined one serves the JSON as is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import { UNSUPPORTED_ENDPOINTS } from '../functions/chat/routes.ts';
import { VERSION } from '../shared/version.ts';
import { ANTHROPIC_RESPONSES, OPERATIONS, type Operation, RESPONSES } from './openapi-operations.ts';

export const OPENAPI_PATH = 'docs/openapi.json';

type JsonSchema = Record<string, unknown>;

/** Request bodies and queries are what callers send (`io: input`: defaults optional, coercions
 * from strings); transforms that JSON Schema cannot say are left open rather than refused. */
function schemaOf(schema: z.core.$ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

function parametersOf(op: Operation): JsonSchema[] {
  const params: JsonSchema[] = [];
  for (const name of op.path.match(/\{(\w+)\}/g) ?? []) {
    const key = name.slice(1, -1);
    params.push({
      name: key,
      in: 'path',
      required: true,
      schema: op.pathParams?.[key] ? schemaOf(op.pathParams[key]) : { type: 'string' },
    });
  }
  if (op.query) {
    const query = schemaOf(op.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [key, schema] of Object.entries(query.properties ?? {})) {
      params.push({ name: key, in: 'query', required: query.required?.includes(key) ?? false, schema });
    }
  }
  for (const [key, description] of Object.entries(op.headers ?? {})) {
    params.push({ name: key, in: 'header', required: false, description, schema: { type: 'string' } });
  }
  return params;
}

const errorResponse = (description: string, schema = 'Error') => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

export function buildOpenApi(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, JsonSchema> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      const content: Record<string, JsonSchema> = {};
      if (response.schema) content['application/json'] = { schema: schemaOf(response.schema, 'output') };
      if (response.sse) content['text/event-stream'] = { schema: { type: 'string' } };
      if (response.html) content['text/html'] = { schema: { type: 'string' } };
      responses[status] = {
        description: response.description,
        ...(Object.keys(content).length ? { content } : {}),
      };
    }
    for (const status of op.errors ?? [])
      responses[String(status)] = op.anthropic
        ? errorResponse(ANTHROPIC_RESPONSES[status], 'AnthropicError')
        : errorResponse(RESPONSES[status]);
    const operation: JsonSchema = {
      operationId: op.id,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [op.tag],
      security: op.auth ? [{ bearer: [] }, ...(op.anthropic ? [{ apiKey: [] }] : [])] : [],
      ...(op.auth && op.auth !== true ? { 'x-mas-roles': op.auth } : {}),
      parameters: parametersOf(op),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(op.body) } },
            },
          }
        : {}),
      responses,
    };
    paths[op.path] ??= {};
    paths[op.path]![op.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mas-functions',
      version: VERSION,
      description:
        'Edge control plane of a multi-agent system: OpenAI-compatible LLM gateway, embeddings and ' +
        'vector memory, tamper-evident audit ledger, human approvals, integration proxy. Every ' +
        'response carries x-correlation-id; errors use the OpenAI error shape. OpenAI endpoints not ' +
        'served here, each a 404 unsupported_endpoint whose message names the alternative: ' +
        `${UNSUPPORTED_ENDPOINTS.map(([path]) => path).join(', ')}.`,
    },
    servers: [{ url: 'http://localhost:8001', description: 'npm start' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key (agent, approver or admin).' },
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: 'The same API key, as Anthropic clients send it (Messages API only).',
        },
      },
      schemas: {
        Error: schemaOf(RESPONSES_ERROR_SCHEMA, 'output'),
        AnthropicError: schemaOf(ANTHROPIC_ERROR_SCHEMA, 'output'),
      },
    },
    paths,
  };
}

const RESPONSES_ERROR_SCHEMA = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.string().nullable(),
    param: z.string().nullable(),
  }),
});

const ANTHROPIC_ERROR_SCHEMA = z.object({
  type: z.literal('error'),
  error: z.object({ type: z.string(), message: z.string() }),
  request_id: z.string(),
});

export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

export const API_DOC_PATH = 'docs/API.md';
const BEGIN = '<!-- operations:begin (generated by npm run openapi from local/openapi-operations.ts) -->';
const END = '<!-- operations:end -->';

/** docs/API.md with its operations table regenerated from the same list as the OpenAPI. */
export function renderApiDoc(current: string): string {
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${API_DOC_PATH} lacks the operations markers`);
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = OPERATIONS.map((op) => {
    const who =
      op.auth === undefined || op.auth === false ? 'none' : op.auth === true ? 'any key' : op.auth.join(', ');
    const ok = Object.keys(op.responses).join(', ');
    const errors = (op.errors ?? []).join(', ');
    return [`\`${op.method.toUpperCase()} ${op.path}\``, who, cell(op.summary), ok, errors];
  });
  // Columns padded as the formatter (Biome) writes Markdown tables, so `npm run fmt` keeps it.
  const cells = [['operation', 'key', 'what it does', 'success', 'errors'], ...rows];
  const widths = cells[0]!.map((_, i) => Math.max(3, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  const table = [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
  return `${current.slice(0, start)}${BEGIN}\n\n${table}\n\n${current.slice(end)}`;
}

if (import.meta.main) {
  const doc = readFileSync(API_DOC_PATH, 'utf8');
  const renderedDoc = renderApiDoc(doc);
  if (doc === renderedDoc) console.log(`openapi: ${API_DOC_PATH} operations up to date`);
  else if (process.argv.includes('--check')) {
    console.error(`openapi: ${API_DOC_PATH} operations are stale; run npm run openapi`);
    process.exitCode = 1;
  } else {
    writeFileSync(API_DOC_PATH, renderedDoc);
    console.log(`openapi: wrote the operations table of ${API_DOC_PATH}`);
  }
  const text = renderOpenApi();
  let current = '';
  try {
    current = readFileSync(OPENAPI_PATH, 'utf8');
  } catch {
    // missing: written below, or stale under --check
  }
  if (current === text) {
    console.log(`openapi: ${OPENAPI_PATH} up to date`);
  } else if (process.argv.includes('--check')) {
    console.error(`openapi: ${OPENAPI_PATH} is stale; run npm run openapi`);
    process.exitCode = 1;
  } else {
    writeFileSync(OPENAPI_PATH, text);
    console.log(`openapi: wrote ${OPENAPI_PATH} (${OPERATIONS.length} operations)`);
  }
}
