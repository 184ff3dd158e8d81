import * as z from 'zod/mini';
import {
  actionInclusionProofs,
  consistencyBetween,
  createCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  originOf,
  previousKeys,
  requireSigningKey,
  sendToWitness,
  verifyStoredLog,
} from '../../shared/audit/ledger-checkpoints.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { notFound } from '../../shared/errors/index.ts';
import { runInBackground } from '../../shared/http/background.ts';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { requireRole } from '../../shared/middleware/auth/index.ts';

/** The verifiable-log routes of the audit function (auth and rate limit come from routes.ts). */
export const ledgerRoutes = routeTable<AppEnv>();

// zod/mini, like the action schemas (shared/audit/actions.ts): no classic zod in this bundle.
const size = z.coerce.number().check(z.int(), z.gte(0), z.lte(Number.MAX_SAFE_INTEGER));
const proofQuery = z.strictObject({ size: z.optional(size) });
const consistencyQuery = z.strictObject({ from: size, to: size });
export const verifyQuery = z.strictObject({
  /** Verify from this seq on: the tree before it comes from the stored nodes (an archived prefix). */
  from: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(Number.MAX_SAFE_INTEGER))),
});
const pageQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(200)), 50),
  cursor: z.optional(z.string().check(z.regex(/^\d{1,16}$/, 'must be a cursor this API returned'))),
});

ledgerRoutes.get('/v1/audit/verify', async (c) => {
  requireRole(c.get('principal'), ['approver', 'admin']);
  const settings = getSettings(c.env);
  const query = verifyQuery.parse(c.req.query());
  return c.json(
    await withPostgres(settings, (client) =>
      verifyStoredLog(client, settings, undefined, query.from ? { fromSeq: query.from } : {}),
    ),
  );
});

ledgerRoutes.post('/v1/audit/checkpoints', async (c) => {
  requireRole(c.get('principal'), ['admin']);
  const settings = getSettings(c.env);
  await requireSigningKey(settings);
  const made = await withPostgres(settings, (client) => createCheckpoint(client, settings));
  if (!made) throw notFound('The log is empty.', 'log_empty');
  if (made.created) {
    runInBackground(
      c,
      sendToWitness(settings, made.checkpoint.note).then((failed) => {
        if (failed) c.get('log').warn('ledger witness failed', { error: failed });
      }),
    );
  }
  return c.json(made.checkpoint, made.created ? 201 : 200);
});

ledgerRoutes.get('/v1/audit/checkpoints', async (c) => {
  const query = pageQuery.parse(c.req.query());
  return c.json(
    await withPostgres(getSettings(c.env), (client) =>
      listCheckpoints(client, {
        limit: query.limit,
        ...(query.cursor ? { before: Number(query.cursor) } : {}),
      }),
    ),
  );
});

ledgerRoutes.get('/v1/audit/checkpoint', async (c) => {
  const latest = await withPostgres(getSettings(c.env), (client) => latestCheckpoint(client));
  if (!latest) throw notFound('No checkpoint has been signed yet.', 'no_checkpoint');
  return c.json(latest);
});

ledgerRoutes.get('/v1/audit/public-key', async (c) => {
  const settings = getSettings(c.env);
  const key = await requireSigningKey(settings);
  return c.json({
    key: key.text,
    name: key.name,
    key_id: key.keyId,
    algorithm: 'Ed25519',
    origin: originOf(settings, key, 'main'),
    // Keys that signed older checkpoints (LEDGER_PREVIOUS_PUBLIC_KEYS), still accepted by verify.
    previous: previousKeys(settings).map((k) => ({ key: k.text, name: k.name, key_id: k.keyId })),
  });
});

ledgerRoutes.get('/v1/audit/actions/:id/proof', async (c) => {
  const id = z.uuid({ message: 'must be an action id (uuid)' }).parse(c.req.param('id'));
  const query = proofQuery.parse(c.req.query());
  const viewer = c.get('principal');
  return c.json(
    await withPostgres(getSettings(c.env), async (client) => {
      const { rows } = await client.query<{ principal: string | null }>(
        'select principal from audit.actions where action_id = $1',
        [id],
      );
      // Agents see their own actions only, as on GET /v1/audit/actions/{id}.
      if (!rows[0] || (viewer.role === 'agent' && rows[0].principal !== viewer.id)) {
        throw notFound(`No action ${id}.`, 'action_not_found');
      }
      return actionInclusionProofs(client, id, query.size === undefined ? {} : { size: query.size });
    }),
  );
});

ledgerRoutes.get('/v1/audit/consistency', async (c) => {
  const query = consistencyQuery.parse(c.req.query());
  return c.json(
    await withPostgres(getSettings(c.env), (client) => consistencyBetween(client, query.from, query.to)),
  );
});
