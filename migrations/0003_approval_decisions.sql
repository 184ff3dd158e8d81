-- Human decisions on approval gates: one row per approver (quorum counts distinct approvers),
-- the single-use receipt's redemption, and when the expiry was written to the ledger.
create table audit.approval_decisions (
  approval_id uuid not null references audit.approvals (id),
  principal text not null,
  decision text not null check (decision in ('approve', 'reject')),
  reason text,
  created_at timestamptz not null default now(),
  primary key (approval_id, principal)
);
grant select, insert on audit.approval_decisions to mas_app;

alter table audit.approvals add column decided_by text;
-- Set once when the receipt completes the action: a receipt works once.
alter table audit.approvals add column receipt_used_at timestamptz;
-- Set by the scheduled handler when it writes the `expired` ledger entry.
alter table audit.approvals add column expiry_logged_at timestamptz;
