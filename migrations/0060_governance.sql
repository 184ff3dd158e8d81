-- Spend under control: what every LLM call cost (the source of truth for budgets; Redis counters
-- are rebuilt from it) and the budgets set per principal, agent and role.
create schema if not exists governance;

create table governance.usage (
  id bigserial primary key,
  -- At-least-once writes from the background: a retried batch never counts a call twice.
  idempotency_key text not null unique,
  created_at timestamptz not null default now(),
  principal text not null,
  agent_id text,
  role text not null,
  endpoint text not null,
  provider text not null,
  model text not null,
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  cached_tokens bigint not null default 0,
  -- Null when the model has no price in the registry (counted in llm_unpriced_requests_total).
  cost_usd numeric(20, 12),
  cache_hit boolean not null default false,
  correlation_id text
);
create index usage_principal_idx on governance.usage (principal, created_at);
create index usage_agent_idx on governance.usage (agent_id, created_at);
create index usage_role_idx on governance.usage (role, created_at);

create table governance.budgets (
  scope text not null check (scope in ('principal', 'agent', 'role')),
  id text not null check (length(id) between 1 and 200),
  daily_usd numeric(20, 6) check (daily_usd >= 0),
  monthly_usd numeric(20, 6) check (monthly_usd >= 0),
  tpm bigint check (tpm >= 0),
  rpm bigint check (rpm >= 0),
  updated_at timestamptz not null default now(),
  updated_by text,
  primary key (scope, id)
);

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'mas_app') then
    create role mas_app nologin;
  end if;
end
$$;
grant usage on schema governance to mas_app;
-- Usage rows are facts: written once, never changed by the application.
grant select, insert on governance.usage to mas_app;
grant usage, select on sequence governance.usage_id_seq to mas_app;
-- Budgets are settings an admin edits through the API.
grant select, insert, update, delete on governance.budgets to mas_app;
