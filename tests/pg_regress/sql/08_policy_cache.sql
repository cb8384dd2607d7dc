-- policy_allows keeps each tenant's policy graph (group nesting, bindings,
-- documents, default policy) in backend memory, valid while the tenant row
-- version (xmin, policy_epoch) is unchanged. This whole file runs in one
-- backend: every change must be seen by the next call, and nothing seen
-- inside a transaction or savepoint that rolled back may outlive it.
SELECT scim.scim_tenant_create('pcache') IS NOT NULL AS created;
SET scim.tenant = 'pcache';
CREATE FUNCTION pc_epoch() RETURNS bigint LANGUAGE sql AS
$$ SELECT policy_epoch FROM scim.tenants WHERE id = scim.current_tenant() $$;
CREATE FUNCTION pc_allows() RETURNS text LANGUAGE sql AS $$
    SELECT format('git=%s jira=%s', scim.policy_allows('pc_u1', 'skills', 'git'),
                  scim.policy_allows('pc_u1', 'skills', 'jira'))
$$;
CREATE FUNCTION pc_patch(grp text, op text, member text) RETURNS void LANGUAGE sql AS $$
    SELECT FROM scim.scim_patch('Group', gid(grp), jsonb_build_object(
        'schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
        'Operations', jsonb_build_array(CASE op
            WHEN 'add' THEN jsonb_build_object('op', 'add', 'path', 'members',
                                               'value', jsonb_build_array(jsonb_build_object('value', member)))
            ELSE jsonb_build_object('op', 'remove', 'path', format('members[value eq "%s"]', member)) END)))
$$;

-- pc_u1 ∈ pc_inner ⊂ pc_outer; pc_a (git) bound to pc_outer.
SELECT scim.scim_create_user('{"userName": "pc_u1"}') IS NOT NULL AS created;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'pc_inner',
       'members', jsonb_build_array(jsonb_build_object('value', uid('pc_u1'))))) IS NOT NULL AS created;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'pc_outer',
       'members', jsonb_build_array(jsonb_build_object('value', gid('pc_inner'))))) IS NOT NULL AS created;
SELECT scim.scim_policy_put('pc_a', '{"allow": {"skills": ["git"]}}') IS NOT NULL AS put;
SELECT scim.scim_policy_put('pc_b', '{"allow": {"skills": "*"}, "deny": {"skills": ["git"]}}') IS NOT NULL AS put;
SELECT scim.scim_policy_put('pc_c', '{"allow": {"skills": ["jira"]}}') IS NOT NULL AS put;
SELECT pc_allows() AS no_binding_no_default;
SELECT scim.scim_policy_bind(gid('pc_outer'), 'pc_a') AS bound;
SELECT pc_allows() AS through_nesting;

-- Edges, documents, bindings, the default: each seen by the next call.
SELECT pc_patch('pc_outer', 'remove', gid('pc_inner'));
SELECT pc_allows() AS edge_removed;
SELECT pc_patch('pc_outer', 'add', gid('pc_inner'));
SELECT pc_allows() AS edge_back;
SELECT scim.scim_policy_put('pc_a', '{"allow": {"skills": ["git", "jira"]}}') IS NOT NULL AS edited;
SELECT pc_allows() AS document_edited;
SELECT scim.scim_policy_set_default('pc_c');
SELECT scim.scim_policy_unbind(gid('pc_outer'), 'pc_a') AS unbound;
SELECT pc_allows() AS default_applies;
SELECT scim.scim_policy_put('pc_c', '{"allow": {"skills": ["git"]}}') IS NOT NULL AS default_edited;
SELECT pc_allows() AS default_document_edited;
SELECT scim.scim_policy_bind(gid('pc_outer'), 'pc_a') AS bound;
-- Direct DML on the tables goes through the same triggers.
DELETE FROM scim.policy_bindings WHERE group_id = gid('pc_outer')::uuid;
SELECT pc_allows() AS binding_deleted_by_dml;
INSERT INTO scim.policy_bindings (tenant_id, group_id, policy) VALUES (scim.current_tenant(), gid('pc_outer')::uuid, 'pc_a');
SELECT pc_allows() AS binding_inserted_by_dml;

-- A user's own memberships are read on every call and do not touch the
-- epoch (IdPs change them all the time); group nesting does.
SELECT pc_epoch() AS e0 \gset
SELECT scim.scim_create_group('{"displayName": "pc_other"}') IS NOT NULL AS created;
SELECT pc_patch('pc_other', 'add', uid('pc_u1'));
SELECT pc_epoch() = :e0 AS user_membership_keeps_epoch, pc_allows() AS in_unbound_group_too;
SELECT pc_patch('pc_other', 'add', gid('pc_outer'));
SELECT pc_epoch() > :e0 AS nesting_bumps_epoch;
SELECT scim.scim_delete('Group', gid('pc_other'));

-- A rolled-back transaction: its graph is not used afterwards, even when a
-- later committed change brings the epoch to the value the rolled-back
-- transaction had seen.
SELECT pc_epoch() AS e1 \gset
BEGIN;
SELECT scim.scim_policy_bind(gid('pc_inner'), 'pc_b') AS bound_in_txn;
SELECT pc_allows() AS inside_txn, pc_epoch() = :e1 + 1 AS epoch_next;
ROLLBACK;
-- (no call in between: the graph kept from inside the transaction is
-- still the one in memory)
SELECT scim.scim_policy_set_default('pc_b');
SELECT pc_epoch() = :e1 + 1 AS same_epoch_value_again, pc_allows() AS after_other_commit;
-- A rolled-back savepoint.
BEGIN;
SAVEPOINT s;
SELECT scim.scim_policy_unbind(gid('pc_outer'), 'pc_a') AS unbound_in_savepoint;
SELECT pc_allows() AS inside_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT pc_allows() AS after_rollback_to_savepoint;
COMMIT;
SELECT pc_allows() AS after_commit;
-- TRUNCATE (no row triggers) still invalidates; rolled back, the old graph
-- is back.
BEGIN;
TRUNCATE scim.policy_bindings;
SELECT pc_allows() AS bindings_truncated_default_applies;
ROLLBACK;
SELECT pc_allows() AS truncate_rolled_back;
-- Deleting the group carrying the binding.
SELECT scim.scim_delete('Group', gid('pc_outer'));
SELECT pc_allows() AS outer_deleted_default_applies;
-- Deactivated: nothing, whatever the graph says.
SELECT scim.scim_patch('User', uid('pc_u1'), '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
       "Operations": [{"op": "replace", "path": "active", "value": false}]}') IS NOT NULL AS deactivated;
SELECT pc_allows() AS inactive;

RESET scim.tenant;
DROP FUNCTION pc_epoch(), pc_allows(), pc_patch(text, text, text);
