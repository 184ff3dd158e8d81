-- The audit ledger: append-only, hash-chained. Every change to an action (recorded, completed,
-- decided, expired) is a new entry that refers to it; nothing is ever rewritten.

create table audit.chain_head (
  id int primary key check (id = 1),
  seq bigint not null,
  row_hash text not null
);
insert into audit.chain_head (id, seq, row_hash) values (1, 0, repeat('0', 64));

create table audit.action_logs (
  -- Gapless: assigned under the chain head's row lock, so a missing seq means a deleted row.
  seq bigint primary key,
  id uuid not null unique,
  action_id uuid not null,
  entry_type text not null check (entry_type in ('action', 'status', 'approval', 'decision', 'expired')),
  created_at timestamptz not null,
  agent_id text not null,
  agent_name text,
  action_type text not null,
  category text not null,
  tool_name text,
  inputs jsonb,
  outputs jsonb,
  error text,
  status text not null,
  correlation_id text,
  trace_id text,
  principal text,
  policy_version text not null,
  approval_bypassed boolean not null default false,
  redaction_rules text[] not null default '{}',
  detail jsonb,
  prev_hash text not null check (prev_hash ~ '^[0-9a-f]{64}$'),
  row_hash text not null unique check (row_hash ~ '^[0-9a-f]{64}$')
);
create index action_logs_action_idx on audit.action_logs (action_id, seq);
create index action_logs_agent_idx on audit.action_logs (agent_id, seq desc);
create index action_logs_correlation_idx on audit.action_logs (correlation_id);

-- Current state per action, derived from the ledger and written in the same statement as the
-- entry that changes it, so listing and conflict checks never scan the log.
create table audit.actions (
  action_id uuid primary key,
  agent_id text not null,
  agent_name text,
  action_type text not null,
  category text not null,
  tool_name text,
  status text not null,
  principal text,
  correlation_id text,
  input_hash text not null,
  approval_id uuid,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  first_seq bigint not null,
  last_seq bigint not null
);
create index actions_list_idx on audit.actions (created_at desc, action_id desc);
create index actions_agent_idx on audit.actions (agent_id, created_at desc);
create index actions_correlation_idx on audit.actions (correlation_id);

-- Backstop for the grants below: even the table owner cannot rewrite history without first
-- disabling this trigger, which the verify endpoint would then expose.
create function audit.refuse_ledger_change() returns trigger language plpgsql as $$
begin
  raise exception 'audit.action_logs is append-only (% refused)', tg_op;
end
$$;
create trigger action_logs_append_only before update or delete on audit.action_logs
  for each row execute function audit.refuse_ledger_change();
create trigger action_logs_no_truncate before truncate on audit.action_logs
  for each statement execute function audit.refuse_ledger_change();

-- The application's role: INSERT and SELECT only on the ledger. Grant it to the login the
-- functions use (`grant mas_app to <user>`).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'mas_app') then
    create role mas_app nologin;
  end if;
end
$$;
grant usage on schema audit to mas_app;
revoke all on audit.action_logs from mas_app;
grant select, insert on audit.action_logs to mas_app;
grant select, update on audit.chain_head to mas_app;
grant select, insert, update on audit.actions to mas_app;

-- An approval gate on one action, bound to the hash of its redacted canonical inputs.
create table audit.approvals (
  id uuid primary key,
  action_id uuid not null unique references audit.actions (action_id),
  input_hash text not null,
  status text not null default 'pending' check (status in ('pending', 'approved', 'rejected')),
  quorum int not null default 1 check (quorum >= 1),
  approver_roles text[] not null default '{}',
  approver_principals text[] not null default '{}',
  requested_by text,
  created_at timestamptz not null,
  -- Past this instant a pending approval reads `expired`, computed from the clock.
  expires_at timestamptz not null,
  decided_at timestamptz,
  reason text
);
create index approvals_pending_idx on audit.approvals (status, expires_at);
grant select, insert, update on audit.approvals to mas_app;
