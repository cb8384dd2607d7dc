-- Policy from group attributes (issue 13 §2): a mapped attribute of a
-- group extension is a policy bound to that group, merged most-
-- restrictively; explain names group and attribute; a PATCH of it is a
-- policy change (notification, cached graph), rolled back with its
-- transaction or savepoint. The whole file runs in one backend.
SELECT scim.scim_tenant_create('gpol') IS NOT NULL AS created;
SET scim.tenant = 'gpol';
SELECT scim.scim_extension_schema_put('Group', $${"id": "urn:arbitex:scim:schemas:extension:Group:2.0", "attributes": [
    {"name": "modelAccess", "type": "string", "multiValued": true},
    {"name": "quotaTokens", "type": "integer"},
    {"name": "complianceBundles", "type": "string", "multiValued": true},
    {"name": "dlpPolicy", "type": "string", "canonicalValues": ["SKIP", "REDACT", "CANCEL", "BLOCK"]},
    {"name": "note", "type": "string"}]}$$) ->> 'id' AS registered;
SELECT scim.scim_extension_schema_put('User', '{"id": "urn:acme:u:1.0", "attributes": [{"name": "tier"}]}') ->> 'id' AS registered;
\set X 'urn:arbitex:scim:schemas:extension:Group:2.0'

-- Bad mappings: clear 400s/404s, nothing stored.
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:nope:x', 'a', 'allow', 'models')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:acme:u:1.0', 'tier', 'allow', 'models')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'nope', 'allow', 'models')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'modelAccess', 'grant', 'models')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'modelAccess', 'limit', 'models')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'modelAccess', 'allow', ' models')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'dlpPolicy', 'rank', 'dlp')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'dlpPolicy', 'rank', 'dlp', '["SKIP", "REDACT", "BLOCK"]')$$);
SELECT try($$SELECT scim.scim_policy_attribute_map('urn:arbitex:scim:schemas:extension:Group:2.0', 'quotaTokens', 'limit', 'quota', '["a"]')$$);
SELECT count(*) AS maps FROM scim.scim_policy_attribute_maps();

SELECT scim.scim_policy_attribute_map(:'X', 'MODELACCESS', 'allow', 'models');
SELECT scim.scim_policy_attribute_map(:'X', 'quotaTokens', 'limit', 'quotaTokens');
SELECT scim.scim_policy_attribute_map(:'X', 'complianceBundles', 'require', 'compliance');
SELECT scim.scim_policy_attribute_map(:'X', 'dlpPolicy', 'rank', 'dlp', '["SKIP", "REDACT", "CANCEL", "BLOCK"]');
SELECT * FROM scim.scim_policy_attribute_maps();

-- eng (bound policy: every model, git) holds u1 and u2; ds (attributes) holds u1.
SELECT count(scim.scim_create_user(jsonb_build_object('userName', n))) AS users FROM unnest(ARRAY['gp_u1', 'gp_u2']) n;
SELECT scim.scim_policy_put('gp_base', '{"allow": {"models": "*", "skills": ["git"]}}') IS NOT NULL AS put;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'eng', 'members',
    jsonb_build_array(jsonb_build_object('value', uid('gp_u1')), jsonb_build_object('value', uid('gp_u2'))))) ->> 'displayName' AS g;
SELECT scim.scim_policy_bind(gid('eng'), 'gp_base') AS bound;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'data-science-team', 'members', jsonb_build_array(jsonb_build_object('value', uid('gp_u1'))),
    :'X', jsonb_build_object('modelAccess', jsonb_build_array('gpt-4o', 'claude-3-5-sonnet'), 'quotaTokens', 500000,
                             'complianceBundles', jsonb_build_array('soc2-type2'), 'dlpPolicy', 'REDACT'))) ->> 'displayName' AS g;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'small',
    :'X', jsonb_build_object('modelAccess', jsonb_build_array('gpt-4o'), 'quotaTokens', 1000, 'dlpPolicy', 'BLOCK'))) ->> 'displayName' AS g;

SELECT scim.effective_policy('gp_u1') - 'user' AS u1;
SELECT scim.effective_policy('gp_u2') - 'user' AS u2;
SELECT scim.policy_allows('gp_u1', 'models', 'gpt-4o') AS u1_gpt, scim.policy_allows('gp_u1', 'models', 'o1') AS u1_o1,
       scim.policy_allows('gp_u1', 'skills', 'git') AS u1_git, scim.policy_allows('gp_u2', 'models', 'o1') AS u2_o1;
-- explain names the group and the attribute of each term
SELECT x -> 'limits' AS limits, x -> 'levels' AS levels, x -> 'require' AS require,
       x -> 'domains' -> 'models' -> 'items' -> 'o1' -> 'removed_by' AS o1_removed_by
  FROM scim.effective_policy_explain('gp_u1') x;

-- A PATCH of a mapped attribute (Entra's capitalised op) is a policy change for the members below.
SELECT coalesce(max(seq), 0) AS s0 FROM scim.scim_policy_changes() \gset
SELECT scim.scim_patch('Group', gid('data-science-team'), jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
    'Operations', jsonb_build_array(jsonb_build_object('op', 'Replace', 'path', :'X' || ':quotaTokens', 'value', 2000)))) IS NOT NULL AS patched;
SELECT all_users, users = ARRAY[uid('gp_u1')::uuid] AS just_u1 FROM scim.scim_policy_changes(:s0);
SELECT scim.effective_policy('gp_u1') -> 'limits' AS limits_after;
-- an unmapped attribute is no policy change
SELECT coalesce(max(seq), 0) AS s1 FROM scim.scim_policy_changes() \gset
SELECT scim.scim_patch('Group', gid('data-science-team'), jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
    'Operations', jsonb_build_array(jsonb_build_object('op', 'add', 'value', jsonb_build_object(:'X' || ':note', 'hello'))))) IS NOT NULL AS patched;
SELECT count(*) AS changes FROM scim.scim_policy_changes(:s1);
-- joining a group whose attributes carry policy is a change too, and merges most-restrictively
SELECT scim.scim_patch('Group', gid('small'), jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
    'Operations', jsonb_build_array(jsonb_build_object('op', 'add', 'path', 'members', 'value', jsonb_build_array(jsonb_build_object('value', uid('gp_u1'))))))) IS NOT NULL AS patched;
SELECT count(*) AS changes FROM scim.scim_policy_changes(:s1);
SELECT scim.effective_policy('gp_u1') - 'user' AS u1_in_small;

-- The cached graph never outlives a rolled-back change.
BEGIN;
SELECT scim.scim_patch('Group', gid('small'), jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
    'Operations', jsonb_build_array(jsonb_build_object('op', 'replace', 'path', :'X' || ':modelAccess', 'value', jsonb_build_array('gpt-4o', 'claude-3-5-sonnet'))))) IS NOT NULL AS patched;
SELECT scim.policy_allows('gp_u1', 'models', 'claude-3-5-sonnet') AS claude_in_txn;
ROLLBACK;
SELECT scim.policy_allows('gp_u1', 'models', 'claude-3-5-sonnet') AS claude_after_rollback;
BEGIN;
SELECT scim.policy_allows('gp_u1', 'models', 'gpt-4o') AS gpt_before;
SAVEPOINT s;
SELECT scim.scim_patch('Group', gid('small'), jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
    'Operations', jsonb_build_array(jsonb_build_object('op', 'remove', 'path', :'X' || ':modelAccess')))) IS NOT NULL AS patched;
SELECT scim.policy_allows('gp_u1', 'models', 'claude-3-5-sonnet') AS claude_after_removal;
ROLLBACK TO SAVEPOINT s;
SELECT scim.policy_allows('gp_u1', 'models', 'claude-3-5-sonnet') AS claude_after_savepoint_rollback;
COMMIT;
-- Unmapping is a change; the term goes.
SELECT scim.scim_policy_attribute_unmap(:'X', 'dlppolicy') AS unmapped;
SELECT scim.effective_policy('gp_u1') ? 'levels' AS has_levels;
-- Removing the schema (with its data) removes its mappings and terms.
SELECT scim.scim_extension_schema_remove(:'X', drop_data => true) AS dropped_from;
SELECT count(*) AS maps FROM scim.scim_policy_attribute_maps();
SELECT scim.effective_policy('gp_u1') - 'user' AS u1_after_removal;
RESET scim.tenant;
