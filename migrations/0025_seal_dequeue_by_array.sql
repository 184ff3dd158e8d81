-- The sealer's dequeue, one index scan (issue #18, sealing lag).
--
-- With hash and merge joins off (0023), the dequeue's `queue_id in (select queue_id from batch)`
-- was left a nested loop, and once a vacuum made the queue's statistics say 25 rows the planner
-- put the queue outside and scanned the whole batch for every queued row: 12.5 million
-- comparisons, 2.5 s for 5,000 rows (bench: sealing lag 262 s). `= any (array(...))` is an index
-- condition on (log, queue_id) whatever the estimates: one index search per id.

/** As 0024's, with the dequeue as one index scan over the batch's ids (see above). */
create or replace function audit.seal(p_log text, p_limit int) returns int
language plpgsql security definer
set search_path = audit, pg_temp
set work_mem = '32MB'
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
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
    select b.queue_id, b.entry_id,
           head_seq + row_number() over w as seq,
           audit.chain(head_hash, b.canonical) over w as row_hash
      from batch b
    window w as (order by b.queue_id rows between unbounded preceding and current row)
  ), seqs as (
    insert into audit.ledger_seq (log, seq, entry_id, prev_hash, row_hash)
    select p_log, seq, entry_id, coalesce(lag(row_hash) over (order by seq), head_hash), row_hash
      from chained
  ), leaves as (
    insert into audit.tree_nodes (log, level, idx, hash)
    select p_log, 0, seq - 1, sha256('\x00'::bytea || decode(row_hash, 'hex')) from chained
  ), dequeued as (
    delete from audit.ledger_queue q
     where q.log = p_log and q.queue_id = any (array(select queue_id from batch))
  )
  select count(*) into sealed from chained;
  if sealed > 0 then
    perform audit.tree_extend(p_log, head_seq, head_seq + sealed);
  end if;
  return sealed;
end
$$;
revoke all on function audit.seal(text, int) from public;
grant execute on function audit.seal(text, int) to mas_app;
