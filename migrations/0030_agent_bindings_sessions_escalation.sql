-- Issue 17: identity bound to the key, server-side approval-page sessions, escalation.

-- The agent ids a key may record actions as, besides its own principal id
-- (`npm run keys -- create --role agent --id planner-1 --agents billing-agent,ops-agent`).
alter table auth.api_keys add column agents text[] not null default '{}';

-- A signed-in approvals page: the cookie carries a random id (signed); the row says who signed in
-- with which key. Logout revokes the row, so a copied cookie stops working at once; every
-- decision re-resolves the key, so a revoked key stops deciding within the key cache's bound.
create table auth.approval_sessions (
  -- SHA-256 hex of the session id in the cookie: a database reader cannot sign in with it.
  id_hash text primary key check (id_hash ~ '^[0-9a-f]{64}$'),
  principal text not null,
  key_hash text not null check (key_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index approval_sessions_expiry_idx on auth.approval_sessions (expires_at);

-- Escalation: past `escalate_at` a pending approval is announced again once (`escalated_at`), and
-- the `escalate_*` approvers may decide too.
alter table audit.approvals add column escalate_at timestamptz;
alter table audit.approvals add column escalated_at timestamptz;
alter table audit.approvals add column escalate_roles text[] not null default '{}';
alter table audit.approvals add column escalate_principals text[] not null default '{}';
create index approvals_escalation_idx on audit.approvals (escalate_at) where status = 'pending' and escalated_at is null;
-- The approvers' queue: newest first, keyset-paginated on (created_at, id).
create index approvals_queue_idx on audit.approvals (created_at desc, id desc);

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'mas_app') then
    create role mas_app nologin;
  end if;
end
$$;
grant usage on schema auth to mas_app;
grant select, insert, update on auth.approval_sessions to mas_app;
