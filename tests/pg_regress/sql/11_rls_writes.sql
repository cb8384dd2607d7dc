-- Row Level Security on writes: a role given direct table access (a
-- reporting or migration role; no extension role has any) reads and
-- writes only the current tenant's rows. Runs in its own tenants.
SELECT scim.scim_tenant_create('rls-a') IS NOT NULL AS a, scim.scim_tenant_create('rls-b') IS NOT NULL AS b;
SET scim.tenant = 'rls-b';
SELECT scim.scim_create_user('{"userName": "b-user"}')->>'userName' AS b_user;
SET scim.tenant = 'rls-a';
SELECT scim.scim_create_user('{"userName": "a-user"}')->>'userName' AS a_user;
CREATE ROLE scim_rls_writer;
GRANT USAGE ON SCHEMA scim TO scim_rls_writer;
-- What direct DML on users needs: the tables its triggers touch, the
-- folding function of its indexes, and the tenant resolution RLS uses.
GRANT SELECT, INSERT, UPDATE, DELETE ON scim.users, scim.groups, scim.members TO scim_rls_writer;
GRANT EXECUTE ON FUNCTION scim.current_tenant(), scim.fold(text) TO scim_rls_writer;
SELECT id AS b_tenant FROM scim.tenants WHERE name = 'rls-b' \gset
SET ROLE scim_rls_writer;
-- Reads: only tenant A.
SELECT user_name FROM scim.users ORDER BY user_name;
-- Writes into another tenant are refused ...
INSERT INTO scim.users (tenant_id, user_name, resource) VALUES (:'b_tenant', 'sneaky', '{"userName": "sneaky"}');
-- ... moving a row there too ...
UPDATE scim.users SET tenant_id = :'b_tenant' WHERE user_name = 'a-user';
-- ... and the other tenant's rows are invisible to UPDATE (a DELETE runs
-- the membership triggers, which need privileges no such role has).
UPDATE scim.users SET display_name = 'hacked' WHERE user_name = 'b-user';
-- Its own tenant's rows it may write.
UPDATE scim.users SET display_name = 'ok' WHERE user_name = 'a-user';
RESET ROLE;
SELECT t.name, u.user_name, u.display_name FROM scim.users u JOIN scim.tenants t ON t.id = u.tenant_id
 WHERE t.name LIKE 'rls-%' ORDER BY t.name;
DROP OWNED BY scim_rls_writer;
DROP ROLE scim_rls_writer;
RESET scim.tenant;
