-- Per-tenant extension schemas (issue 13): registration, validation of
-- resources against them, filters and indexes, removal.
SELECT scim.scim_tenant_create('ext') IS NOT NULL AS created;
SELECT scim.scim_tenant_create('ext_other') IS NOT NULL AS created;
SET scim.tenant = 'ext';

-- Bad definitions: clear 400s, nothing stored.
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:ietf:params:scim:schemas:x:1.0", "attributes": [{"name": "a"}]}')$$);
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:acme:g:1.0", "attributes": [{"name": "displayName"}]}')$$);
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:acme:g:1.0", "attributes": [{"name": "a", "type": "integer", "canonicalValues": ["1"]}]}')$$);
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:acme:g:1.0", "attributes": [{"name": "a", "type": "complex", "subAttributes": [{"name": "b", "type": "complex", "subAttributes": [{"name": "c"}]}]}]}')$$);
SELECT try($$SELECT scim.scim_extension_schema_put('Widget', '{"id": "urn:acme:g:1.0", "attributes": [{"name": "a"}]}')$$);
SELECT count(*) AS stored FROM scim.scim_extension_schemas();

-- The arbitex group extension and a custom user extension.
SELECT scim.scim_extension_schema_put('Group', $${"id": "urn:arbitex:scim:schemas:extension:Group:2.0", "name": "ArbitexGroup",
  "attributes": [
    {"name": "modelAccess", "type": "string", "multiValued": true},
    {"name": "quotaTokens", "type": "integer"},
    {"name": "complianceBundles", "type": "string", "multiValued": true},
    {"name": "dlpPolicy", "type": "string", "canonicalValues": ["SKIP", "REDACT", "CANCEL", "BLOCK"]},
    {"name": "costCenter", "type": "string", "uniqueness": "server"}]}$$) ->> 'name' AS registered;
SELECT scim.scim_extension_schema_put('User', $${"id": "urn:acme:scim:user:1.0",
  "attributes": [{"name": "badge", "type": "string", "caseExact": true, "required": true},
                 {"name": "level", "type": "integer"}]}$$, required => false) ->> 'id' AS registered;
SELECT urn, resource_type, required, jsonb_array_length(definition->'attributes') AS attrs FROM scim.scim_extension_schemas();
-- URN case variants are one schema; a prefix of another is ambiguous.
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "URN:ARBITEX:scim:schemas:extension:Group:2.0", "attributes": [{"name": "a"}]}')$$);
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:arbitex:scim:schemas:extension:Group:2.0:sub", "attributes": [{"name": "a"}]}')$$);
-- Limits: schemas per tenant.
SET scim.max_extension_schemas = 2;
SELECT try($$SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:acme:third:1.0", "attributes": [{"name": "a"}]}')$$);
RESET scim.max_extension_schemas;

-- Resources: names canonical, canonicalValues in their spelling, types checked.
SELECT scim.scim_create_group($${"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "urn:arbitex:scim:schemas:extension:Group:2.0", "urn:idp:noise"],
  "displayName": "data-science-team", "externalId": "grp_ds_001",
  "urn:arbitex:scim:schemas:extension:Group:2.0": {"MODELACCESS": ["gpt-4o", "claude-3-5-sonnet"], "quotaTokens": 500000,
     "complianceBundles": ["soc2-type2"], "dlpPolicy": "redact"}}$$) - 'id' - 'meta' AS created;
SELECT scim.scim_create_group('{"displayName": "small", "urn:arbitex:scim:schemas:extension:Group:2.0": {"modelAccess": ["gpt-4o-mini"], "quotaTokens": 1000, "dlpPolicy": "BLOCK"}}') ->> 'displayName' AS created;
SELECT scim.scim_create_group('{"displayName": "plain"}') -> 'schemas' AS plain_schemas;
SELECT try($$SELECT scim.scim_create_group('{"displayName": "bad1", "urn:arbitex:scim:schemas:extension:Group:2.0": {"quotaTokens": "many"}}')$$);
SELECT try($$SELECT scim.scim_create_group('{"displayName": "bad2", "urn:arbitex:scim:schemas:extension:Group:2.0": {"dlpPolicy": "ALLOW"}}')$$);
SELECT try($$SELECT scim.scim_create_group('{"displayName": "bad3", "urn:arbitex:scim:schemas:extension:Group:2.0": {"nope": 1}}')$$);
SELECT try($$SELECT scim.scim_create_group('{"displayName": "bad4", "urn:unknown:ext:1.0": {"a": 1}}')$$);
SELECT try($$SELECT scim.scim_create_user('{"userName": "nobadge", "urn:acme:scim:user:1.0": {"level": 3}}')$$);
SELECT count(*) AS groups_stored FROM scim.groups WHERE tenant_id = scim.current_tenant();
SELECT scim.scim_create_user('{"userName": "u1", "urn:acme:scim:user:1.0": {"badge": "B-1", "level": 3}}') -> 'urn:acme:scim:user:1.0' AS ext;
SELECT scim.scim_create_user('{"userName": "u2", "urn:acme:scim:user:1.0": {"badge": "b-1", "level": 30}}') -> 'urn:acme:scim:user:1.0' AS ext;

-- Filters and sorting through the same compiler; absent attributes and ne.
CREATE FUNCTION names(rt text, f text, sort text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(coalesce(r->>'displayName', r->>'userName'), ',' ORDER BY n)
      FROM jsonb_array_elements(scim.scim_list(rt, f, sort_by => sort)->'Resources') WITH ORDINALITY AS x(r, n)
$$;
SELECT names('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens gt 1000') AS gt;
SELECT names('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:modelAccess eq "GPT-4O"') AS mv_eq;
SELECT names('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:dlpPolicy ne "block"', 'displayName') AS ne_incl_absent;
SELECT names('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens pr', 'urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens') AS sorted_by_quota;
SELECT names('User', 'urn:acme:scim:user:1.0:badge eq "b-1"') AS case_exact;
SELECT names('User', 'urn:acme:scim:user:1.0:level ge 3 and urn:acme:scim:user:1.0:level lt 30') AS range;
SELECT try($$SELECT scim.scim_list('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens eq "x"')$$);
-- another tenant does not know the schema
SET scim.tenant = 'ext_other';
SELECT try($$SELECT scim.scim_list('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens gt 1')$$);
SET scim.tenant = 'ext';

-- PATCH: URN-prefixed paths, no-path replace with URN keys, Entra's capitals.
SELECT scim.scim_patch('Group', gid('small'), $${"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
   {"op": "Replace", "path": "urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens", "value": 2500},
   {"op": "Add", "path": "urn:arbitex:scim:schemas:extension:Group:2.0:modelAccess", "value": ["o1"]}]}$$)
   -> 'urn:arbitex:scim:schemas:extension:Group:2.0' AS patched;
SELECT scim.scim_patch('Group', gid('small'), $${"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
   {"op": "replace", "value": {"urn:arbitex:scim:schemas:extension:Group:2.0:dlpPolicy": "cancel",
                              "urn:arbitex:scim:schemas:extension:Group:2.0": {"complianceBundles": ["hipaa"]}}}]}$$)
   -> 'urn:arbitex:scim:schemas:extension:Group:2.0' AS patched_no_path;
SELECT try($$SELECT scim.scim_patch('Group', gid('small'), '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "urn:arbitex:scim:schemas:extension:Group:2.0:dlpPolicy", "value": "maybe"}]}')$$);
SELECT scim.scim_patch('Group', gid('small'), $${"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
   {"op": "remove", "path": "urn:arbitex:scim:schemas:extension:Group:2.0"}]}$$) -> 'schemas' AS schemas_after_removing_all;

-- uniqueness "server": a second group with the same costCenter (any case) is a 409, nothing stored.
SELECT scim.scim_patch('Group', gid('small'), '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "urn:arbitex:scim:schemas:extension:Group:2.0:costCenter", "value": "CC-1"}]}') -> 'urn:arbitex:scim:schemas:extension:Group:2.0' AS unique_set;
SELECT try($$SELECT scim.scim_create_group('{"displayName": "dup", "urn:arbitex:scim:schemas:extension:Group:2.0": {"costCenter": "cc-1"}}')$$);
SELECT try($$SELECT scim.scim_patch('Group', gid('plain'), '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "urn:arbitex:scim:schemas:extension:Group:2.0:costCenter", "value": "CC-1"}]}')$$);
SELECT gid('dup') IS NULL AS dup_not_stored, scim.scim_get('Group', gid('plain')) ? 'urn:arbitex:scim:schemas:extension:Group:2.0' AS plain_unchanged;

-- An index per attribute: EXPLAIN shows it used for eq and sw.
SELECT scim.scim_extension_index('urn:arbitex:scim:schemas:extension:Group:2.0', 'COSTCENTER') LIKE 'groups\_ext\_%' AS indexed;
SELECT try($$SELECT scim.scim_extension_index('urn:arbitex:scim:schemas:extension:Group:2.0', 'quotaTokens')$$);
INSERT INTO scim.groups (tenant_id, display_name, resource)
SELECT scim.current_tenant(), 'bulk-' || i, jsonb_build_object('displayName', 'bulk-' || i,
       'urn:arbitex:scim:schemas:extension:Group:2.0', jsonb_build_object('costCenter', 'BULK-' || i))
  FROM generate_series(1, 5000) i;
ANALYZE scim.groups;
CREATE FUNCTION plan_uses(f text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text; found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || scim.scim_filter_sql(f, 'Group') LOOP
        found := found OR line LIKE '%groups\_ext\_%';
    END LOOP;
    RETURN found;
END
$$;
SELECT plan_uses('urn:arbitex:scim:schemas:extension:Group:2.0:costCenter eq "bulk-77"') AS eq_uses_index,
       plan_uses('urn:arbitex:scim:schemas:extension:Group:2.0:costCenter sw "BULK-77"') AS sw_uses_index;
SELECT names('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:costCenter sw "bulk-77"', 'displayName') AS sw_indexed;
DELETE FROM scim.groups WHERE tenant_id = scim.current_tenant() AND display_name LIKE 'bulk-%';

-- Removal: refused while data exists, unless drop_data.
SELECT try($$SELECT scim.scim_extension_schema_remove('urn:arbitex:scim:schemas:extension:Group:2.0')$$);
SELECT scim.scim_extension_schema_remove('urn:arbitex:scim:schemas:extension:Group:2.0', drop_data => true) AS dropped_from;
SELECT scim.scim_get('Group', gid('data-science-team')) -> 'schemas' AS schemas_after_drop;
SELECT count(*) AS ext_indexes_left FROM pg_indexes WHERE schemaname = 'scim' AND indexname LIKE 'groups\_ext\_%';
SELECT try($$SELECT scim.scim_list('Group', 'urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens gt 1')$$);

-- Every operation reads the tenant's definitions as its statement would
-- (spi::direct): a registration is seen at once by the same transaction,
-- and a rolled-back one is forgotten, even where the backend had already
-- built a type from it.
BEGIN;
SAVEPOINT s;
SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:acme:tx:1.0", "attributes": [{"name": "tier", "type": "integer"}]}') ->> 'id' AS registered_in_savepoint;
SELECT scim.scim_create_group('{"displayName": "tx-one", "urn:acme:tx:1.0": {"tier": 3}}') -> 'urn:acme:tx:1.0' AS extension_used_at_once;
ROLLBACK TO SAVEPOINT s;
SELECT try($$SELECT scim.scim_create_group('{"displayName": "tx-two", "urn:acme:tx:1.0": {"tier": 3}}')$$) AS after_rollback;
SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:acme:tx:1.0", "attributes": [{"name": "tier", "type": "string"}]}') ->> 'id' AS registered_again;
SELECT try($$SELECT scim.scim_create_group('{"displayName": "tx-three", "urn:acme:tx:1.0": {"tier": 3}}')$$) AS integer_now_refused;
SELECT scim.scim_create_group('{"displayName": "tx-four", "urn:acme:tx:1.0": {"tier": "gold"}}') -> 'urn:acme:tx:1.0' AS string_now_accepted;
ROLLBACK;
SELECT count(*) AS tx_schemas_left FROM scim.scim_extension_schemas() WHERE urn = 'urn:acme:tx:1.0';
RESET scim.tenant;
