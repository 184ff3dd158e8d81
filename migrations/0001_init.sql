-- Schemas every function shares, and API keys managed by `npm run keys`.
create schema if not exists auth;
create schema if not exists audit;
create schema if not exists vectors;

create table if not exists auth.api_keys (
  id text primary key check (id ~ '^[A-Za-z0-9._@-]{1,64}$'),
  role text not null check (role in ('agent', 'approver', 'admin')),
  -- SHA-256 of the key, lower-case hex: the key itself is never stored.
  key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

-- pgvector backs vector memory when no Qdrant is configured. A Postgres without the extension
-- (e.g. a stock Debian PostgreSQL) still migrates: /ready reports the vector store as failing
-- with a clear reason instead.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'vector') then
    create extension if not exists vector;
  else
    raise notice 'pgvector is not available on this server: vector memory needs QDRANT_URL or pgvector';
  end if;
end
$$;
