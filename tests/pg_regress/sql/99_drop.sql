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
-- Without btree_gin: CREATE EXTENSION still works and the GIN indexes
-- hold the values alone; once btree_gin is installed,
-- scim_create_trigram_indexes() makes them again, leading with tenant_id.
DROP EXTENSION scim_pg CASCADE;
DROP EXTENSION btree_gin;
CREATE EXTENSION scim_pg;
SELECT indexname, regexp_replace(indexdef, '^.* USING gin ', '') AS gin_keys
  FROM pg_indexes WHERE schemaname = 'scim' AND indexdef LIKE '% USING gin %' ORDER BY 1;
SELECT count(scim.scim_create_user(jsonb_build_object('userName', n, 'emails', jsonb_build_array(jsonb_build_object('value', n || '@x.example')))))
  FROM unnest(ARRAY['gin-one', 'gin-two']) n;
SELECT jsonb_array_length(scim.scim_list('User', 'emails.value eq "GIN-ONE@X.example"')->'Resources') AS email_matches;
CREATE EXTENSION btree_gin;
SELECT scim.scim_create_trigram_indexes() AS with_trigram;
SELECT indexname, regexp_replace(indexdef, '^.* USING gin ', '') AS gin_keys
  FROM pg_indexes WHERE schemaname = 'scim' AND indexdef LIKE '% USING gin %' ORDER BY 1;
SELECT jsonb_array_length(scim.scim_list('User', 'emails.value eq "GIN-ONE@X.example"')->'Resources') AS email_matches_tenant_leading;
