-- What the application role `mas_app` (created NOLOGIN in 0002) needs besides its ledger grants
-- (0002, 0003), so that the functions can connect AS mas_app: API key look-ups and vector memory.
-- Exactly what the code does, nothing more: the keys CLI (the owner) writes auth.api_keys, the
-- functions only read it; the ledger stays INSERT/SELECT only (0002).
-- A login for it: `npm run migrate` with MAS_APP_PASSWORD set runs
--   alter role mas_app login password '<MAS_APP_PASSWORD>'
-- (docs/DEPLOY.md); or create your own login role and `grant mas_app to <login>`.
-- Every table a later migration adds grants mas_app what the code does with it.
grant usage on schema auth to mas_app;
grant select on auth.api_keys to mas_app;
grant usage on schema vectors to mas_app;
