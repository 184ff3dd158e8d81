-- An MCP tool call that needs approval is retried by the agent with the same arguments; the
-- gateway finds that call's approval by the principal and the hash of the call's inputs.
-- No new table, so no new grants: mas_app already reads audit.actions.
create index if not exists actions_principal_input_idx on audit.actions (principal, input_hash, created_at desc);
