import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import spec from '../../docs/openapi.json' with { type: 'json' };
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';

/**
 * The API reference: `GET /openapi.json` (generated from the routes' zod schemas by
 * `npm run openapi`) and `GET /docs`, the same document rendered server-side. No JavaScript and
 * no CDN, so it renders offline and under a strict CSP; any OpenAPI tool can load the JSON.
 * Served by the combined deployment (what `npm start` runs), not by each function.
 */
const routes = new Hono<AppEnv>();

const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

routes.get('/openapi.json', (c) => c.json(spec));

interface Parameter {
  name: string;
  in: string;
  required: boolean;
  description?: string;
  schema?: unknown;
}
interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: unknown[];
  'x-mas-roles'?: string[];
  parameters: Parameter[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
}

const operations = Object.entries(spec.paths as Record<string, Record<string, Operation>>).flatMap(
  ([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })),
);
const tags = [...new Set(operations.map((o) => o.op.tags[0] ?? 'other'))];

const Schema: FC<{ schema: unknown }> = ({ schema }) => <pre>{JSON.stringify(schema, null, 2)}</pre>;

const Op: FC<{ path: string; method: string; op: Operation }> = ({ path, method, op }) => {
  const roles = op['x-mas-roles'];
  const who = op.security.length === 0 ? 'no key' : roles ? `key with role ${roles.join(' or ')}` : 'any key';
  return (
    <section id={op.operationId}>
      <h3>
        <span class={`m ${method}`}>{method.toUpperCase()}</span> <code>{path}</code>
      </h3>
      <p>
        {op.summary}. <em>Auth: {who}.</em>
      </p>
      {op.description ? <p>{op.description}</p> : null}
      {op.parameters.length ? (
        <table>
          <tr>
            <th>parameter</th>
            <th>in</th>
            <th>schema</th>
          </tr>
          {op.parameters.map((p) => (
            <tr>
              <td>
                <code>{p.name}</code>
                {p.required ? ' *' : ''}
              </td>
              <td>{p.in}</td>
              <td>{p.description ?? <code>{JSON.stringify(p.schema)}</code>}</td>
            </tr>
          ))}
        </table>
      ) : null}
      {op.requestBody ? (
        <details>
          <summary>Request body (application/json)</summary>
          <Schema schema={op.requestBody.content['application/json']?.schema} />
        </details>
      ) : null}
      <ul>
        {Object.entries(op.responses).map(([status, response]) => (
          <li>
            <strong>{status}</strong> {response.description}
            {response.content?.['application/json']?.schema &&
            !status.startsWith('4') &&
            !status.startsWith('5') ? (
              <details>
                <summary>schema</summary>
                <Schema schema={response.content['application/json'].schema} />
              </details>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
};

routes.get('/docs', (c) => {
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  return c.html(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${spec.info.title} ${spec.info.version} API reference`}</title>
        <style>{`body{font:15px/1.45 system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font:13px ui-monospace,monospace}pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:24rem}
section{border-top:1px solid #ddd;padding:.5rem 0}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
.m{display:inline-block;min-width:4.5rem;font-size:12px;color:#fff;padding:.1rem .4rem;border-radius:3px;text-align:center}
.get{background:#2a7}.post{background:#27a}.patch{background:#a72}.put{background:#a52}.delete{background:#c33}`}</style>
      </head>
      <body>
        <h1>
          {spec.info.title} <small>{spec.info.version}</small>
        </h1>
        <p>{spec.info.description}</p>
        <p>
          Authorization: <code>Bearer &lt;key&gt;</code>. Machine-readable:{' '}
          <a href="/openapi.json">/openapi.json</a> (OpenAPI {spec.openapi}).
        </p>
        <nav>
          {tags.map((tag) => (
            <p>
              <strong>{tag}</strong>:{' '}
              {operations
                .filter((o) => o.op.tags[0] === tag)
                .map((o) => (
                  <>
                    <a href={`#${o.op.operationId}`}>{o.op.operationId}</a>{' '}
                  </>
                ))}
            </p>
          ))}
        </nav>
        {tags.map((tag) => (
          <>
            <h2>{tag}</h2>
            {operations
              .filter((o) => o.op.tags[0] === tag)
              .map((o) => (
                <Op path={o.path} method={o.method} op={o.op} />
              ))}
          </>
        ))}
      </body>
    </html>,
  );
});

export const docsFunction = defineFunction('docs', routes);
