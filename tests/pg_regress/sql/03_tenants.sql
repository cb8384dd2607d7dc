-- Tenant isolation: the current tenant is the GUC scim.tenant. This file
-- works in two tenants of its own (home, acme), so it stands alone.
SELECT scim.scim_tenant_create('home') IS NOT NULL AS created;
SELECT scim.scim_tenant_create('acme') IS NOT NULL AS created;
SELECT try($$ SELECT scim.scim_tenant_create('acme') $$);

SET scim.tenant = 'home';
SELECT scim.scim_create_user('{"userName": "carol"}')->>'userName' AS home_carol;
SELECT scim.scim_create_user('{"userName": "hank"}')->>'userName' AS home_hank;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'All',
       'members', jsonb_build_array(jsonb_build_object('value', uid('carol')))))->>'displayName' AS home_group;
SET scim.tenant = 'acme';
-- Same userName as in the home tenant: allowed (unique per tenant).
SELECT scim.scim_create_user('{"userName": "carol"}')->>'userName' AS acme_carol;
SELECT count(*) AS visible_to_acme FROM scim.users WHERE tenant_id = scim.current_tenant();
-- acme can neither read, replace, delete nor reference home's resources.
SET scim.tenant = 'home';
SELECT uid('carol') AS home_carol \gset
SELECT gid('All') AS home_all \gset
SET scim.tenant = 'acme';
SELECT try(format($$ SELECT scim.scim_get('User', %L) $$, :'home_carol'));
SELECT try(format($$ SELECT scim.scim_replace('User', %L, '{"userName": "stolen"}') $$, :'home_carol'));
SELECT try(format($$ SELECT scim.scim_delete('User', %L) $$, :'home_carol'));
SELECT try(format($$ SELECT scim.scim_get('Group', %L) $$, :'home_all'));
SELECT try(format($$ SELECT scim.scim_create_group(%L) $$,
       jsonb_build_object('displayName', 'x', 'members', jsonb_build_array(jsonb_build_object('value', :'home_carol')))));
SET scim.tenant = 'home';
SELECT scim.scim_get('User', :'home_carol')->>'userName' AS still_there;
RESET scim.tenant;

-- An unknown tenant is an error, never a fallback to the default.
SET scim.tenant = 'nobody';
SELECT try($$ SELECT scim.scim_create_user('{"userName": "x"}') $$);
-- … also where there is no row to read (the tenant is resolved first).
SELECT try($$ SELECT count(*) FROM scim.scim_tokens() $$);
SELECT try($$ SELECT count(*) FROM scim.scim_oauth_clients() $$);
SELECT try($$ SELECT count(*) FROM scim.scim_provisioning_log_export() $$);
SELECT try($$ SELECT count(*) FROM scim.scim_policy_changes() $$);
SELECT try($$ SELECT count(*) FROM scim.scim_extension_schemas() $$);
SELECT try($$ SELECT count(*) FROM scim.scim_policy_attribute_maps() $$);
RESET scim.tenant;

-- Row Level Security: a plain role sees only the current tenant's rows.
CREATE ROLE scim_reader NOLOGIN;
GRANT USAGE ON SCHEMA scim TO scim_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA scim TO scim_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA scim TO scim_reader;
SET ROLE scim_reader;
SET scim.tenant = 'home';
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
