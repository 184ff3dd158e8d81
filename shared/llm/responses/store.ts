import { withPostgres } from '../../db/postgres.ts';
import type { Settings } from '../../env.ts';
import { notFoundResponse } from './translate.ts';
import type { InputItem, ResponseObject } from './types.ts';

/**
 * Stored responses (`llm.responses`, migration 0010). Every read is scoped to the principal that
 * wrote the row: another principal's id answers exactly as an unknown one does (404), so ids
 * cannot be probed. Expired rows are never returned and are swept a few at a time by writes.
 */
export interface StoredResponse {
  response: ResponseObject;
  inputItems: InputItem[];
  history: InputItem[];
}

const DEFAULT_RETENTION_DAYS = 30;

export function canStore(settings: Settings): boolean {
  return Boolean(settings.DATABASE_URL);
}

export async function saveResponse(
  settings: Settings,
  principal: string,
  stored: StoredResponse,
): Promise<void> {
  const days = settings.RESPONSES_RETENTION_DAYS ?? DEFAULT_RETENTION_DAYS;
  await withPostgres(settings, async (client) => {
    await client.query(
      `with swept as (
         delete from llm.responses
          where id in (select id from llm.responses where expires_at < now() limit 20)
       )
       insert into llm.responses (id, principal, expires_at, response, input_items, history)
       values ($1, $2, now() + make_interval(days => $3), $4, $5, $6)
       on conflict (id) do nothing`,
      [
        stored.response.id,
        principal,
        days,
        JSON.stringify(stored.response),
        JSON.stringify(stored.inputItems),
        JSON.stringify(stored.history),
      ],
    );
  });
}

export async function loadResponse(
  settings: Settings,
  principal: string,
  id: string,
): Promise<StoredResponse> {
  const row = await withPostgres(settings, async (client) => {
    const { rows } = await client.query(
      `select response, input_items, history from llm.responses
        where id = $1 and principal = $2 and expires_at > now()`,
      [id, principal],
    );
    return rows[0] as
      | { response: ResponseObject; input_items: InputItem[]; history: InputItem[] }
      | undefined;
  });
  if (!row) throw notFoundResponse(id);
  return { response: row.response, inputItems: row.input_items, history: row.history };
}

export async function deleteResponse(settings: Settings, principal: string, id: string): Promise<void> {
  const deleted = await withPostgres(settings, async (client) => {
    const { rowCount } = await client.query(
      'delete from llm.responses where id = $1 and principal = $2 and expires_at > now()',
      [id, principal],
    );
    return rowCount ?? 0;
  });
  if (deleted === 0) throw notFoundResponse(id);
}
