-- The sealer, set-based (issue #18, throughput).
--
-- 0020's audit.seal walked the queue row by row, growing four arrays, and audit.tree_extend joined
-- each level with itself; under a generic plan that join became a nested loop over the whole
-- level (quadratic: ~3 s of CPU per 1,000 rows once a log held 12,000). Now one statement takes
-- the batch, numbers it (row_number), chains it (a running window aggregate: the chain is
-- inherently sequential, but it is one pass inside the executor), writes the seq rows and the
-- leaves and empties the queue; then one statement per tree level pairs each complete node with
-- its right sibling (lead() over one index range scan). Same results, hash for hash, as 0020.

-- The foreign key from ledger_seq to action_logs checked each sealed row with a row lock
-- (SELECT ... FOR KEY SHARE writes the entry's tuple again): a fifth of the sealer's time. Entries
-- are never deleted (triggers), and the sealer seals only entries that exist (below).
alter table audit.ledger_seq drop constraint if exists ledger_seq_entry_id_fkey;

/** One link of the chain: sha256(previous row_hash || canonical JSON), hex (as ledger-hash.ts). */
create or replace function audit.chain_step(state text, head text, canonical text) returns text
language plpgsql immutable parallel safe set search_path = audit, pg_temp as $$
begin
  return encode(sha256(convert_to(coalesce(state, head) || canonical, 'UTF8')), 'hex');
end
$$;

/**
 * chain(head, canonical) over (order by ... rows between unbounded preceding and current row):
 * each row's row_hash, starting from `head` (the log's last row_hash). Postgres advances a running
 * frame incrementally, so this is one step per row.
 */
create or replace aggregate audit.chain(text, text) (sfunc = audit.chain_step, stype = text);

/** Adds the interior nodes that leaves [p_from, p_to) complete (their level-0 nodes exist). */
create or replace function audit.tree_extend(p_log text, p_from bigint, p_to bigint) returns void
language plpgsql set search_path = audit, pg_temp as $$
declare
  lvl int := 0;
  lo bigint := p_from;
  hi bigint := p_to;
begin
  loop
    -- New parents at lvl + 1: [lo / 2, hi / 2), hi being the count of complete nodes at lvl. Their
    -- children are exactly the nodes [2 * (lo / 2), 2 * (hi / 2)) of lvl: complete pairs, so
    -- lead() over that range is each even node's right sibling.
    lo := lo / 2;
    hi := hi / 2;
    exit when hi <= lo;
    insert into audit.tree_nodes (log, level, idx, hash)
    select p_log, lvl + 1, c.idx / 2, sha256('\x01'::bytea || c.hash || c.right_hash)
      from (select n.idx, n.hash, lead(n.hash) over (order by n.idx) as right_hash
              from audit.tree_nodes n
             where n.log = p_log and n.level = lvl and n.idx >= lo * 2 and n.idx < hi * 2) c
     where c.idx % 2 = 0;
    lvl := lvl + 1;
  end loop;
end
$$;

/**
 * Seals up to p_limit queued entries of one log, oldest first: seq, chain hash, tree nodes, all in
 * the caller's transaction. Returns how many it sealed, or -1 when another sealer holds the log
 * (that one re-checks the queue after it commits, so nothing waits for long).
 */
create or replace function audit.seal(p_log text, p_limit int) returns int
language plpgsql security definer set search_path = audit, pg_temp as $$
declare
  head_seq bigint;
  head_hash text;
  sealed int;
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
  with batch as materialized (
    select queue_id, entry_id, canonical from audit.ledger_queue
     where log = p_log order by queue_id limit greatest(1, least(p_limit, 20000))
  ), chained as materialized (
    -- Only entries that exist are sealed (the writer inserts both in one statement, so a queued
    -- id without its entry was never the application's); such a queue row is just dropped.
    select b.queue_id, b.entry_id,
           head_seq + row_number() over w as seq,
           audit.chain(head_hash, b.canonical) over w as row_hash
      from batch b
     where exists (select 1 from audit.action_logs l where l.id = b.entry_id)
    window w as (order by b.queue_id rows between unbounded preceding and current row)
  ), seqs as (
    insert into audit.ledger_seq (log, seq, entry_id, prev_hash, row_hash)
    select p_log, seq, entry_id, coalesce(lag(row_hash) over (order by seq), head_hash), row_hash
      from chained
  ), leaves as (
    insert into audit.tree_nodes (log, level, idx, hash)
    select p_log, 0, seq - 1, sha256('\x00'::bytea || decode(row_hash, 'hex')) from chained
  ), dequeued as (
    delete from audit.ledger_queue where queue_id in (select queue_id from batch)
  )
  select count(*) into sealed from chained;
  if sealed > 0 then
    perform audit.tree_extend(p_log, head_seq, head_seq + sealed);
  end if;
  return sealed;
end
$$;
revoke all on function audit.seal(text, int) from public;
revoke all on function audit.tree_extend(text, bigint, bigint) from public;
grant execute on function audit.seal(text, int) to mas_app;
