import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_DOC_PATH, buildOpenApi, OPENAPI_PATH, renderApiDoc, renderOpenApi } from './openapi.ts';

interface Schema {
  required?: string[];
  properties: Record<string, { minimum?: number; maximum?: number; enum?: string[] }>;
}

describe('docs/openapi.json', () => {
  it('is what the route schemas generate today (run npm run openapi)', () => {
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(renderOpenApi());
  });

  it('and the operations table of docs/API.md are what the route list generates today', () => {
    const doc = readFileSync(API_DOC_PATH, 'utf8');
    expect(doc).toBe(renderApiDoc(doc));
    expect(doc).toContain('`POST /v1/chat/completions`');
  });

  it('names the OpenAI endpoints not served, as the 404 unsupported_endpoint does', () => {
    const { info } = buildOpenApi() as { info: { description: string } };
    for (const path of [
      '/v1/moderations',
      '/v1/images/*',
      '/v1/audio/*',
      '/v1/files',
      '/v1/batches',
      '/v1/realtime',
    ])
      expect(info.description).toContain(path);
  });

  it('carries the request schemas the routes validate with', () => {
    const spec = buildOpenApi() as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>
      >;
    };
    const chat = spec.paths['/v1/chat/completions']!.post!.requestBody!.content['application/json']!.schema;
    expect(chat.required).toEqual(['messages']);
    expect(chat.properties.temperature).toMatchObject({ minimum: 0, maximum: 2 });
    const decision =
      spec.paths['/v1/approvals/{id}/decision']!.post!.requestBody!.content['application/json']!.schema;
    expect(decision.properties.decision?.enum).toEqual(['approve', 'reject']);
  });
});
