-- Responses API objects kept for `store: true` (the default, as OpenAI): GET /v1/responses/{id},
-- its input_items, and `previous_response_id` chains read them. Only the principal that created a
-- response may read, continue or delete it. Rows past expires_at are invisible at once and
-- deleted by later writes (RESPONSES_RETENTION_DAYS, default 30).
create schema if not exists llm;

create table llm.responses (
  id text primary key,
  principal text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- The response object as returned (status, output, usage...).
  response jsonb not null,
  -- This call's own input items, with ids (what /input_items lists).
  input_items jsonb not null,
  -- Everything the model was sent before this call's input (earlier turns), so a follow-up can
  -- continue without walking the chain.
  history jsonb not null default '[]'
);
create index responses_expires_at on llm.responses (expires_at);

grant usage on schema llm to mas_app;
grant select, insert, delete on llm.responses to mas_app;
