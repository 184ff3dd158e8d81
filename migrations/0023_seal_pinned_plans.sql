-- The sealer's plans, pinned (issue #18, sealing lag).
--
-- audit.ledger_queue swings between empty and thousands of rows, and every sealed row leaves a dead
-- tuple until a vacuum (this machine runs with autovacuum off; elsewhere it runs about once a
-- minute). Its statistics are therefore always wrong, and the planner flipped between plans: a
-- bitmap scan that reads every dead queue entry of the log (the cost grew with each batch sealed),
-- or, once the estimate said 5,000, a hash join that read all of audit.action_logs to check the
-- batch's entries exist (measured: 350 of a 5,000-row seal's 530 ms with 785,000 entries). Every
-- statement of a seal touches at most the batch (≤ 20,000 rows) through an index, so the function
-- runs with only index-driven nested loops allowed: the queue is read in queue_id order and the
-- LIMIT stops the scan, each entry is checked by its unique index, and each dequeued row is found
-- by (log, queue_id).
alter function audit.seal(text, int)
  set enable_seqscan = off
  set enable_bitmapscan = off
  set enable_hashjoin = off
  set enable_mergejoin = off;

-- Where autovacuum runs, vacuum the queue after every few thousand dead rows rather than 20 % of a
-- table that is mostly dead rows.
alter table audit.ledger_queue set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
