-- DROP EXTENSION removes everything it created; CREATE works again after.
DROP EXTENSION scim_pg CASCADE;
SELECT count(*) AS scim_schemas FROM pg_namespace WHERE nspname = 'scim';
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname LIKE 'scim\_%' AND pronamespace <> 'pg_catalog'::regnamespace;
CREATE EXTENSION scim_pg;
SELECT scim.scim_create_user('{"userName": "again"}')->>'userName' AS recreated;
SELECT (SELECT count(*) FROM scim.users) AS users, (SELECT count(*) FROM scim.tenants) AS tenants;
