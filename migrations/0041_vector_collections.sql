-- Vector collections, created outside the request path: the application role (mas_app) has no
-- CREATE on any schema; the first upsert into a collection calls vectors.ensure_collection, which
-- runs as this migration's owner (SECURITY DEFINER), creates the table with an HNSW index, grants
-- mas_app exactly its DML on it and records it here. A collection belongs to a namespace: the
-- principal that wrote it, or '*shared' for the shared collections declared in config (`*` is in
-- no principal id, so no principal can own that namespace).
create table vectors.collections (
  namespace text not null check (namespace = '*shared' or namespace ~ '^[A-Za-z0-9._@-]{1,64}$'),
  name text not null check (name ~ '^[a-z0-9_]{1,48}$'),
  dimension int not null check (dimension between 1 and 16000),
  table_name text not null unique,
  created_at timestamptz not null default now(),
  primary key (namespace, name)
);
grant select on vectors.collections to mas_app;

create function vectors.ensure_collection(p_namespace text, p_name text, p_dimension int)
returns table (table_name text, dimension int)
language plpgsql
security definer
-- A SECURITY DEFINER function must not resolve names through a caller-controlled search path.
set search_path = pg_catalog, pg_temp
as $$
declare
  ext_schema text;
  t text := 'c_' || substr(md5(p_namespace || '/' || p_name), 1, 24);
  claimed int;
begin
  select n.nspname into ext_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector';
  if ext_schema is null then
    raise exception 'pgvector is not installed' using errcode = '0A000';
  end if;
  -- Claim the name first: a concurrent first upsert waits on this row, then finds it.
  insert into vectors.collections (namespace, name, dimension, table_name)
    values (p_namespace, p_name, p_dimension, t)
    on conflict on constraint collections_pkey do nothing;
  get diagnostics claimed = row_count;
  if claimed = 1 then
    execute format(
      'create table vectors.%I (id text primary key, embedding %I.vector(%s) not null, payload jsonb not null default ''{}'')',
      t, ext_schema, p_dimension);
    -- pgvector indexes up to 2000 dimensions; beyond that a search is an exact scan.
    if p_dimension <= 2000 then
      execute format('create index on vectors.%I using hnsw (embedding %I.vector_cosine_ops)', t, ext_schema);
    end if;
    execute format('create index on vectors.%I using gin (payload jsonb_path_ops)', t);
    execute format('grant select, insert, update, delete on vectors.%I to mas_app', t);
  end if;
  return query
    select c.table_name, c.dimension from vectors.collections c
     where c.namespace = p_namespace and c.name = p_name;
end
$$;
revoke all on function vectors.ensure_collection(text, text, int) from public;
grant execute on function vectors.ensure_collection(text, text, int) to mas_app;
