-- The ledger as a verifiable log (issue #18).
--
-- Writers no longer queue on one row lock. An entry is INSERTed (durable at its commit, so a 201
-- still means recorded) together with a row in `audit.ledger_queue`; one sealer at a time (an
-- advisory lock per log, inside `audit.seal`) then gives queued entries their gapless seq, the
-- per-row hash chain and the RFC 6962 Merkle tree's nodes, in batches. The application role can
-- only call `audit.seal`: it never UPDATEs or DELETEs a ledger row, and it cannot choose a seq.
--
-- A database may hold several logs (`log`): production writes `main`; tests that tamper with
-- history use a log of their own so they never race with tests that verify `main`.

-- seq and the chain move to audit.ledger_seq (append-only, written by the sealer only).
create table audit.ledger_seq (
  log text not null,
  seq bigint not null check (seq >= 1),
  entry_id uuid not null unique,
  -- row_hash = sha256(prev_hash || canonical JSON of the entry), hex, as before.
  prev_hash text not null check (prev_hash ~ '^[0-9a-f]{64}$'),
  row_hash text not null check (row_hash ~ '^[0-9a-f]{64}$'),
  sealed_at timestamptz not null default clock_timestamp(),
  primary key (log, seq)
);

-- Every complete subtree of the tree: node (level, idx) covers leaves [idx * 2^level, (idx + 1) *
-- 2^level). Leaves (level 0) are sha256(0x00 || row_hash bytes), interior nodes sha256(0x01 ||
-- left || right), as RFC 6962 section 2.1. Any subtree hash an inclusion or consistency proof
-- needs is at most log2(n) of these: no proof scans the log.
create table audit.tree_nodes (
  log text not null,
  level smallint not null check (level between 0 and 62),
  idx bigint not null check (idx >= 0),
  hash bytea not null check (length(hash) = 32),
  primary key (log, level, idx)
);

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note), made by the scheduled handler and
-- on demand.
create table audit.checkpoints (
  log text not null,
  tree_size bigint not null check (tree_size >= 0),
  root_hash bytea not null check (length(root_hash) = 32),
  created_at timestamptz not null,
  key_name text not null,
  key_id text not null check (key_id ~ '^[0-9a-f]{8}$'),
  note text not null,
  primary key (log, tree_size)
);
create index checkpoints_created_idx on audit.checkpoints (log, created_at desc);

-- Entries written but not sealed yet: what the sealer takes, oldest first. `canonical` is the
-- RFC 8785 text the writer hashed; verification recomputes it from the stored row instead.
create table audit.ledger_queue (
  queue_id bigserial primary key,
  log text not null,
  entry_id uuid not null unique,
  canonical text not null,
  queued_at timestamptz not null default clock_timestamp()
);
create index ledger_queue_log_idx on audit.ledger_queue (log, queue_id);

-- Existing history becomes the first rows of log `main`, chain and all.
insert into audit.ledger_seq (log, seq, entry_id, prev_hash, row_hash, sealed_at)
select 'main', seq, id, prev_hash, row_hash, created_at from audit.action_logs order by seq;
drop table audit.chain_head;
alter table audit.action_logs drop constraint action_logs_pkey;
alter table audit.action_logs drop column seq, drop column prev_hash, drop column row_hash;
-- Dropping seq dropped the indexes on it.
create index if not exists action_logs_action_idx on audit.action_logs (action_id, created_at);
create index if not exists action_logs_agent_idx on audit.action_logs (agent_id, created_at desc);
alter table audit.ledger_seq add foreign key (entry_id) references audit.action_logs (id);
alter table audit.actions alter column first_seq drop not null, alter column last_seq drop not null;

/** Adds the interior nodes that leaves [p_from, p_to) complete (their level-0 nodes exist). */
create function audit.tree_extend(p_log text, p_from bigint, p_to bigint) returns void
language plpgsql set search_path = audit, pg_temp as $$
declare
  lvl int := 0;
  lo bigint := p_from;
  hi bigint := p_to;
begin
  loop
    -- New parents at lvl + 1: [lo / 2, hi / 2), hi being the count of complete nodes at lvl.
    lo := lo / 2;
    hi := hi / 2;
    exit when hi <= lo;
    insert into audit.tree_nodes (log, level, idx, hash)
    select p_log, lvl + 1, l.idx / 2, sha256('\x01'::bytea || l.hash || r.hash)
      from audit.tree_nodes l
      join audit.tree_nodes r on r.log = l.log and r.level = l.level and r.idx = l.idx + 1
     where l.log = p_log and l.level = lvl and l.idx >= lo * 2 and l.idx < hi * 2 and l.idx % 2 = 0;
    lvl := lvl + 1;
  end loop;
end
$$;

insert into audit.tree_nodes (log, level, idx, hash)
select log, 0, seq - 1, sha256('\x00'::bytea || decode(row_hash, 'hex')) from audit.ledger_seq;
select audit.tree_extend('main', 0, (select count(*) from audit.ledger_seq where log = 'main'));

/**
 * Seals up to p_limit queued entries of one log, oldest first: seq, chain hash, tree nodes, all in
 * the caller's transaction. Returns how many it sealed, or -1 when another sealer holds the log
 * (that one re-checks the queue after it commits, so nothing waits for long).
 */
create function audit.seal(p_log text, p_limit int) returns int
language plpgsql security definer set search_path = audit, pg_temp as $$
declare
  head_seq bigint;
  head_hash text;
  first_seq bigint;
  r record;
  seqs bigint[] := '{}';
  ids uuid[] := '{}';
  prevs text[] := '{}';
  hashes text[] := '{}';
begin
  if not pg_try_advisory_xact_lock(hashtext('mas.ledger.seal'), hashtext(p_log)) then
    return -1;
  end if;
  select seq, row_hash into head_seq, head_hash from audit.ledger_seq
   where log = p_log order by seq desc limit 1;
  if head_seq is null then
    head_seq := 0;
    head_hash := repeat('0', 64);
  end if;
  first_seq := head_seq + 1;
  for r in select entry_id, canonical from audit.ledger_queue
            where log = p_log order by queue_id limit greatest(1, least(p_limit, 5000)) loop
    head_seq := head_seq + 1;
    seqs := seqs || head_seq;
    ids := ids || r.entry_id;
    prevs := prevs || head_hash;
    head_hash := encode(sha256(convert_to(head_hash || r.canonical, 'UTF8')), 'hex');
    hashes := hashes || head_hash;
  end loop;
  if cardinality(seqs) = 0 then
    return 0;
  end if;
  insert into audit.ledger_seq (log, seq, entry_id, prev_hash, row_hash)
  select p_log, s, e, p, h from unnest(seqs, ids, prevs, hashes) as t(s, e, p, h);
  insert into audit.tree_nodes (log, level, idx, hash)
  select p_log, 0, s - 1, sha256('\x00'::bytea || decode(h, 'hex')) from unnest(seqs, hashes) as t(s, h);
  perform audit.tree_extend(p_log, first_seq - 1, head_seq);
  delete from audit.ledger_queue where entry_id = any(ids);
  return cardinality(seqs);
end
$$;
revoke all on function audit.seal(text, int) from public;
revoke all on function audit.tree_extend(text, bigint, bigint) from public;

-- Backstops, as for action_logs: nobody rewrites sealed history without disabling triggers. The
-- refusal now names the table it guards.
create or replace function audit.refuse_ledger_change() returns trigger language plpgsql as $$
begin
  raise exception '%.% is append-only (% refused)', tg_table_schema, tg_table_name, tg_op;
end
$$;
create trigger ledger_seq_append_only before update or delete on audit.ledger_seq
  for each row execute function audit.refuse_ledger_change();
create trigger ledger_seq_no_truncate before truncate on audit.ledger_seq
  for each statement execute function audit.refuse_ledger_change();
create trigger tree_nodes_append_only before update or delete on audit.tree_nodes
  for each row execute function audit.refuse_ledger_change();
create trigger tree_nodes_no_truncate before truncate on audit.tree_nodes
  for each statement execute function audit.refuse_ledger_change();
create trigger checkpoints_append_only before update or delete on audit.checkpoints
  for each row execute function audit.refuse_ledger_change();
create trigger checkpoints_no_truncate before truncate on audit.checkpoints
  for each statement execute function audit.refuse_ledger_change();

-- The application: reads everything, appends entries and checkpoints, seals through the function.
grant select on audit.ledger_seq, audit.tree_nodes to mas_app;
grant select, insert on audit.checkpoints to mas_app;
grant select, insert on audit.ledger_queue to mas_app;
grant usage on sequence audit.ledger_queue_queue_id_seq to mas_app;
grant execute on function audit.seal(text, int) to mas_app;
