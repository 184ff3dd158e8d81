-- Appends through one function; the sealer no longer looks every entry up (issue #18, throughput).
--
-- 0021's sealer checked that each queued entry exists in audit.action_logs (a unique-index probe
-- per row, ~3.6 µs: 14 % of a seal, in the one process that cannot run in parallel), because
-- `mas_app` could INSERT into audit.ledger_queue directly and queue an id with no entry. Now the
-- queue is written only by audit.append_entries, which queues exactly the entries it inserts in the
-- same statement, and `mas_app` loses INSERT on the queue. The check moves to where it is true by
-- construction, and each writer's statement is planned once per connection (PL/pgSQL caches it)
-- instead of on every append.

/**
 * Inserts entries (rows of audit.action_logs as JSON), queues each with the canonical JSON its
 * writer hashed ({id, canonical}), and upserts the actions' state; returns the queued entry ids.
 */
create function audit.append_entries(p_entries jsonb, p_canonical jsonb, p_log text, p_states jsonb)
returns setof uuid
language plpgsql security definer set search_path = audit, pg_temp as $$
begin
  return query
  with entry as (
    insert into audit.action_logs
    select * from jsonb_populate_recordset(null::audit.action_logs, p_entries)
    returning action_logs.id
  ), queued as (
    insert into audit.ledger_queue (log, entry_id, canonical)
    select p_log, c.id, c.canonical
      from jsonb_to_recordset(p_canonical) as c(id uuid, canonical text)
      join entry e on e.id = c.id
    returning ledger_queue.entry_id
  ), state as (
    insert into audit.actions as a
    select * from jsonb_populate_recordset(null::audit.actions, p_states)
    on conflict (action_id) do update set status = excluded.status, updated_at = excluded.updated_at
  )
  select q.entry_id from queued q;
end
$$;
revoke all on function audit.append_entries(jsonb, jsonb, text, jsonb) from public;
grant execute on function audit.append_entries(jsonb, jsonb, text, jsonb) to mas_app;
revoke insert on audit.ledger_queue from mas_app;

-- Anything queued before without its entry (only a direct INSERT could do that) is not sealed.
delete from audit.ledger_queue q where not exists (select 1 from audit.action_logs l where l.id = q.entry_id);

/** As 0022's, without the per-entry lookup; 0023's pinned plans kept. */
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
     where q.log = p_log and q.queue_id in (select queue_id from batch)
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
