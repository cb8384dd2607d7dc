-- Tenant isolation: the current tenant is the GUC scim.tenant.
SELECT scim.scim_tenant_create('acme') IS NOT NULL AS created;
SELECT try($$ SELECT scim.scim_tenant_create('acme') $$);

SET scim.tenant = 'acme';
-- Same userName as in the default tenant: allowed (unique per tenant).
SELECT scim.scim_create_user('{"userName": "carol"}')->>'userName' AS acme_carol;
SELECT count(*) AS visible_to_acme FROM scim.users WHERE tenant_id = scim.current_tenant();
-- acme can neither read, replace, delete nor reference default-tenant resources.
RESET scim.tenant;
SELECT uid('carol') AS default_carol \gset
SELECT gid('All') AS default_all \gset
SET scim.tenant = 'acme';
SELECT try(format($$ SELECT scim.scim_get('User', %L) $$, :'default_carol'));
SELECT try(format($$ SELECT scim.scim_replace('User', %L, '{"userName": "stolen"}') $$, :'default_carol'));
SELECT try(format($$ SELECT scim.scim_delete('User', %L) $$, :'default_carol'));
SELECT try(format($$ SELECT scim.scim_get('Group', %L) $$, :'default_all'));
SELECT try(format($$ SELECT scim.scim_create_group(%L) $$,
       jsonb_build_object('displayName', 'x', 'members', jsonb_build_array(jsonb_build_object('value', :'default_carol')))));
RESET scim.tenant;
SELECT scim.scim_get('User', :'default_carol')->>'userName' AS still_there;

-- An unknown tenant is an error, never a fallback to the default.
SET scim.tenant = 'nobody';
SELECT try($$ SELECT scim.scim_create_user('{"userName": "x"}') $$);
RESET scim.tenant;

-- Row Level Security: a plain role sees only the current tenant's rows.
CREATE ROLE scim_reader NOLOGIN;
GRANT USAGE ON SCHEMA scim TO scim_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA scim TO scim_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA scim TO scim_reader;
SET ROLE scim_reader;
SELECT user_name FROM scim.users ORDER BY 1;
SET scim.tenant = 'acme';
SELECT user_name FROM scim.users ORDER BY 1;
SELECT count(*) AS acme_groups FROM scim.groups;
RESET scim.tenant;
RESET ROLE;
REVOKE ALL ON ALL TABLES IN SCHEMA scim FROM scim_reader;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA scim FROM scim_reader;
REVOKE ALL ON SCHEMA scim FROM scim_reader;
DROP ROLE scim_reader;
