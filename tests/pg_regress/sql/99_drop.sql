-- DROP EXTENSION removes everything it created; CREATE works again after.
DROP EXTENSION scim_pg CASCADE;
SELECT count(*) AS scim_schemas FROM pg_namespace WHERE nspname = 'scim';
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname LIKE 'scim\_%' AND pronamespace <> 'pg_catalog'::regnamespace;
CREATE EXTENSION scim_pg;
SELECT scim.scim_create_user('{"userName": "again"}')->>'userName' AS recreated;
SELECT (SELECT count(*) FROM scim.users) AS users, (SELECT count(*) FROM scim.tenants) AS tenants;
-- Without pg_trgm: CREATE EXTENSION still works, pattern filters scan,
-- and the trigram indexes can be added once pg_trgm is there.
DROP EXTENSION scim_pg CASCADE;
DROP EXTENSION pg_trgm;
CREATE EXTENSION scim_pg;
SELECT count(*) AS trigram_indexes FROM pg_indexes WHERE schemaname = 'scim' AND indexdef LIKE '%gin_trgm_ops%';
SELECT count(scim.scim_create_user(jsonb_build_object('userName', n))) FROM unnest(ARRAY['trgm-one', 'trgm-two', 'other']) n;
SELECT jsonb_array_length(scim.scim_list('User', 'userName sw "TRGM-"')->'Resources') AS sw_matches,
       jsonb_array_length(scim.scim_list('User', 'userName co "m-t"')->'Resources') AS co_matches;
SELECT scim.scim_create_trigram_indexes() AS created_without_pg_trgm;
CREATE EXTENSION pg_trgm;
SELECT scim.scim_create_trigram_indexes() AS created_with_pg_trgm;
SELECT count(*) > 0 AS trigram_indexes FROM pg_indexes WHERE schemaname = 'scim' AND indexdef LIKE '%gin_trgm_ops%';
SELECT jsonb_array_length(scim.scim_list('User', 'userName sw "TRGM-"')->'Resources') AS sw_matches_indexed;
-- btree_gin is required (the tenant-leading GIN indexes): without it
-- CREATE EXTENSION says so; CASCADE installs it.
DROP EXTENSION scim_pg CASCADE;
DROP EXTENSION btree_gin;
\set VERBOSITY terse
CREATE EXTENSION scim_pg;
\set VERBOSITY default
CREATE EXTENSION scim_pg CASCADE;
SELECT count(*) AS btree_gin_installed FROM pg_extension WHERE extname = 'btree_gin';
SELECT pg_get_indexdef('scim.users_email_values'::regclass) LIKE '%(tenant_id, email_values)' AS tenant_leading;
