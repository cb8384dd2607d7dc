-- Policy engine: documents, bindings, effective policy, policy_allows,
-- default policy, quarantine, nested groups, tenant isolation, notifications.
-- Everything here is prefixed pol_ so it does not meet the other suites.

-- Helpers ----------------------------------------------------------------
-- effective_policy with the user id replaced by the userName (ids are random).
CREATE FUNCTION pol_eff(ref text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT e - 'user' || jsonb_build_object('user',
             (SELECT u.user_name FROM scim.users u WHERE u.id = (e->>'user')::uuid))
      FROM scim.effective_policy(ref) e
$$;
-- A SCIM PatchOp message.
CREATE FUNCTION pol_patch(ops jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
                              'Operations', ops)
$$;
CREATE FUNCTION pol_add_member(grp text, usr text) RETURNS void LANGUAGE sql AS $$
    SELECT FROM scim.scim_patch('Group', gid(grp), pol_patch(jsonb_build_array(
        jsonb_build_object('op', 'add', 'path', 'members', 'value', jsonb_build_array(jsonb_build_object('value', uid(usr)))))))
$$;
CREATE FUNCTION pol_remove_member(grp text, usr text) RETURNS void LANGUAGE sql AS $$
    SELECT FROM scim.scim_patch('Group', gid(grp), pol_patch(jsonb_build_array(
        jsonb_build_object('op', 'remove', 'path', format('members[value eq "%s"]', uid(usr))))))
$$;

-- Notifications: NOTIFY scim_policy_changed carries only a change number;
-- the change itself (tenant, users or "all") is a row of
-- scim.policy_changes. pol_capture.log shows the rows not yet seen, as
-- {"tenant": …, "users": […]} / {"tenant": …, "all": true}. (psql's own
-- "Asynchronous notification" lines carry a server PID, so they cannot
-- appear in expected output; tests/http checks the payload itself.)
CREATE SCHEMA pol_capture;
CREATE TABLE pol_capture.cursor (seq bigint NOT NULL);
INSERT INTO pol_capture.cursor SELECT coalesce(max(seq), 0) FROM scim.policy_changes;
CREATE VIEW pol_capture.log AS
    SELECT c.seq AS n, 'scim_policy_changed'::text AS channel,
           CASE WHEN c.all_users THEN jsonb_build_object('tenant', c.tenant_id, 'all', true)
                ELSE jsonb_build_object('tenant', c.tenant_id, 'users', to_jsonb(c.users)) END AS payload
      FROM scim.policy_changes c
     WHERE c.seq > (SELECT seq FROM pol_capture.cursor);
-- The unseen changes, user ids shown as userNames, then marked seen.
CREATE FUNCTION pol_seen() RETURNS SETOF text LANGUAGE sql AS $$
    WITH shown AS (
        SELECT n, channel || ' ' || coalesce((SELECT t.name FROM scim.tenants t WHERE t.id = (payload->>'tenant')::uuid), '?') || ': '
               || CASE WHEN payload ? 'all' THEN 'all=' || (payload->>'all')
                       ELSE (SELECT coalesce(string_agg(coalesce(u.user_name, '<gone>'), ' ' ORDER BY coalesce(u.user_name, '<gone>')), '')
                               FROM jsonb_array_elements_text(payload->'users') x
                               LEFT JOIN scim.users u ON u.id = x::uuid) END AS line
          FROM pol_capture.log),
    gone AS (UPDATE pol_capture.cursor SET seq = (SELECT coalesce(max(c.seq), 0) FROM scim.policy_changes c))
    SELECT line FROM shown ORDER BY n
$$;
SET search_path = pol_capture, pg_catalog, public;

-- Users and groups ---------------------------------------------------------
SELECT count(scim.scim_create_user(jsonb_build_object('userName', n, 'externalId', 'ext-' || n)))
  FROM unnest(ARRAY['pol_alice', 'pol_bob', 'pol_carol', 'pol_dave', 'pol_erin', 'pol_frank', 'pol_gina']) n;
SELECT count(scim.scim_create_group(jsonb_build_object('displayName', n)))
  FROM unnest(ARRAY['pol_eng', 'pol_ops', 'pol_sec', 'pol_quarantine', 'pol_plain', 'pol_all', 'pol_cyc_a', 'pol_cyc_b']) n;
SELECT * FROM pol_seen();  -- no default policy yet, no bindings: nothing to say

-- Documents: validation -----------------------------------------------------
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '[]') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"allow": {}, "grant": {}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"allow": []}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"allow": {"skills": "git"}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"allow": {"skills": ["git", 7]}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"allow": {"skills": ["git", "docker", "git"]}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"allow": {"skills": ["git", "*"]}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"deny": {"skills": [" git"]}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"deny": {"": ["git"]}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"require": {"hooks": "audit"}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"limits": {"tokens": -1}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('pol_bad', '{"limits": {"tokens": "10"}}') $$);
SELECT try($$ SELECT scim.scim_policy_put('', '{}') $$);
SELECT try($$ SELECT scim.scim_policy_put(' pol_x', '{}') $$);
-- A direct write is validated and normalised too (trigger).
SELECT try($$ INSERT INTO scim.policies (tenant_id, name, document) VALUES (scim.current_tenant(), 'pol_bad', '{"allow": {"x": 1}}') $$);
SELECT count(*) AS bad_policies FROM scim.policies WHERE name = 'pol_bad';

-- put returns (and stores) the normalised document: all four keys, sorted.
SELECT scim.scim_policy_put('pol_dev', '{"allow": {"skills": ["kubectl", "git", "docker"], "models": "*", "mcp_servers": ["github"]},
                                         "deny": {"models": ["gpt-x"]},
                                         "require": {"hooks": ["audit"]},
                                         "limits": {"tokens": 100000, "rpm": 60.0}}');
SELECT document FROM scim.policies WHERE name = 'pol_dev';
SELECT scim.scim_policy_put('pol_ops', '{"allow": {"skills": ["git", "kubectl", "terraform"], "models": ["claude", "gpt-x"], "plugins": "*"},
                                         "deny": {"skills": ["terraform"]},
                                         "require": {"hooks": ["pager", "audit"], "mfa": ["totp"]},
                                         "limits": {"tokens": 50000, "cost_usd": 12.5}}') IS NOT NULL AS put;
SELECT scim.scim_policy_put('pol_sec', '{"allow": {"skills": "*", "models": "*"}, "deny": {"models": "*"}}') IS NOT NULL AS put;
SELECT scim.scim_policy_put('pol_quarantine', '{}');
SELECT scim.scim_policy_put('pol_base', '{"allow": {"skills": ["git"]}, "limits": {"tokens": 1000}}') IS NOT NULL AS put;
-- Re-putting the same document (in any key order) changes nothing: same stamp.
SELECT updated AS dev_updated FROM scim.policies WHERE name = 'pol_dev' \gset
SELECT scim.scim_policy_put('pol_dev', '{"limits": {"rpm": 60, "tokens": 100000}, "require": {"hooks": ["audit"]}, "deny": {"models": ["gpt-x"]},
                                         "allow": {"mcp_servers": ["github"], "models": "*", "skills": ["docker", "git", "kubectl"]}}') IS NOT NULL AS put;
SELECT updated = :'dev_updated' AS same_stamp FROM scim.policies WHERE name = 'pol_dev';

-- Bindings ------------------------------------------------------------------
SELECT try($$ SELECT scim.scim_policy_bind('00000000-0000-0000-0000-0000000000aa', 'pol_dev') $$);
SELECT try($$ SELECT scim.scim_policy_bind('not-a-uuid', 'pol_dev') $$);
SELECT try(format($$ SELECT scim.scim_policy_bind(%L, 'pol_nope') $$, gid('pol_eng')));
SELECT scim.scim_policy_bind(gid('pol_eng'), 'pol_dev') AS bound, scim.scim_policy_bind(gid('pol_eng'), 'pol_dev') AS again;
SELECT scim.scim_policy_bind(gid('pol_ops'), 'pol_ops') AS bound;
SELECT scim.scim_policy_bind(gid('pol_sec'), 'pol_sec') AS bound;
SELECT scim.scim_policy_bind(gid('pol_quarantine'), 'pol_quarantine') AS bound;
SELECT scim.scim_policy_unbind(gid('pol_plain'), 'pol_dev') AS unbound_nothing;
SELECT try(format($$ SELECT scim.scim_policy_unbind(%L, 'pol_nope') $$, gid('pol_eng')));
SELECT * FROM pol_seen();  -- the groups are still empty: nobody to notify

-- Effective policy ------------------------------------------------------------
-- No bound group and no default: nothing.
SELECT pol_eff('pol_alice');
SELECT pol_add_member('pol_eng', 'pol_alice');
SELECT * FROM pol_seen();
-- One policy: itself.
SELECT pol_eff('pol_alice');
-- Two policies, most-restrictive merge:
--   allow: intersection per domain, "*" is the identity, a domain missing
--          from one policy (mcp_servers, plugins) is not allowed at all;
--   deny: union; require: union per name; limits: minimum per name.
SELECT pol_add_member('pol_ops', 'pol_alice');
SELECT * FROM pol_seen();
SELECT pol_eff('pol_alice');
SELECT d, i, scim.policy_allows('pol_alice', d, i) AS allowed
  FROM (VALUES ('skills', 'git'), ('skills', 'kubectl'), ('skills', 'docker'), ('skills', 'terraform'),
               ('models', 'claude'), ('models', 'gpt-x'), ('models', 'llama'),
               ('mcp_servers', 'github'), ('plugins', 'anything'), ('unknown_domain', 'x')) v(d, i);
-- Matching is exact and case-sensitive; "" and "*" are never items; NULLs are false.
SELECT scim.policy_allows('pol_alice', 'skills', 'Git') AS upper_git,
       scim.policy_allows('pol_alice', 'skills', '') AS empty_item,
       scim.policy_allows('pol_alice', 'models', '*') AS star_item,
       scim.policy_allows('pol_alice', 'skills', NULL) AS null_item,
       scim.policy_allows(NULL, 'skills', 'git') AS null_user;
-- The user can be named by id, by userName in any case, or by externalId.
SELECT scim.policy_allows(uid('pol_alice'), 'skills', 'git') AS by_id,
       scim.policy_allows('POL_Alice', 'skills', 'git') AS by_name_ci,
       scim.policy_allows('ext-pol_alice', 'skills', 'git') AS by_external_id,
       (scim.effective_policy('ext-pol_alice')->>'user') = uid('pol_alice') AS same_user;
-- deny "*" is a kill switch for the whole domain, whatever the others allow.
SELECT pol_add_member('pol_sec', 'pol_alice');
SELECT * FROM pol_seen();
SELECT pol_eff('pol_alice')->'allow' AS allow, pol_eff('pol_alice')->'deny' AS deny;
SELECT scim.policy_allows('pol_alice', 'models', 'claude') AS claude, scim.policy_allows('pol_alice', 'skills', 'git') AS git;
SELECT pol_remove_member('pol_sec', 'pol_alice');
SELECT * FROM pol_seen();

-- Explain: who allowed, removed or denied what.
SELECT e->'source' AS source, e->'policies' AS policies, e->'bindings' AS bindings, e->'groups' AS groups
  FROM scim.effective_policy_explain('pol_alice') e;
SELECT jsonb_pretty(scim.effective_policy_explain('pol_alice')->'domains'->'skills'->'items'->'docker') AS docker;
SELECT jsonb_pretty(scim.effective_policy_explain('pol_alice')->'domains'->'models'->'items'->'gpt-x') AS gpt_x;
SELECT scim.effective_policy_explain('pol_alice')->'limits' AS limits;
SELECT scim.effective_policy_explain('pol_alice')->'require' AS require;

-- Quarantine: a group bound to {} suspends at once; leaving it restores.
SELECT pol_add_member('pol_quarantine', 'pol_alice');
SELECT * FROM pol_seen();
SELECT pol_eff('pol_alice');
SELECT scim.policy_allows('pol_alice', 'skills', 'git') AS git_in_quarantine;
SELECT pol_remove_member('pol_quarantine', 'pol_alice');
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_alice', 'skills', 'git') AS git_restored;

-- A policy edit applies at once (the backend's document cache is keyed by
-- the policy's updated stamp) and notifies the users it binds.
SELECT scim.scim_policy_put('pol_ops', '{"allow": {"skills": ["kubectl"], "models": "*", "plugins": "*"}}') IS NOT NULL AS put;
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_alice', 'skills', 'git') AS git, scim.policy_allows('pol_alice', 'skills', 'kubectl') AS kubectl;
-- ... also inside a transaction that rolls back: afterwards the old document applies again.
BEGIN;
SELECT scim.scim_policy_put('pol_ops', '{"allow": {"skills": ["git"], "models": "*", "plugins": "*"}}') IS NOT NULL AS put;
SELECT scim.policy_allows('pol_alice', 'skills', 'git') AS git_in_txn, scim.policy_allows('pol_alice', 'skills', 'kubectl') AS kubectl_in_txn;
ROLLBACK;
SELECT scim.policy_allows('pol_alice', 'skills', 'git') AS git_after, scim.policy_allows('pol_alice', 'skills', 'kubectl') AS kubectl_after;
SELECT count(*) AS lost_notifications FROM pol_capture.log;  -- rolled back with the transaction

-- Default policy -------------------------------------------------------------
SELECT try($$ SELECT scim.scim_policy_set_default('pol_nope') $$);
SELECT scim.scim_policy_set_default('pol_base');
SELECT * FROM pol_seen();
-- bob is in no group, carol only in a group without bindings: both get the default.
SELECT pol_add_member('pol_plain', 'pol_carol');
SELECT * FROM pol_seen();  -- pol_plain reaches no binding: no notification
SELECT pol_eff('pol_bob');
SELECT pol_eff('pol_carol')->'policies' AS carol_policies, pol_eff('pol_carol')->'source' AS source,
       scim.policy_allows('pol_carol', 'skills', 'git') AS git, scim.policy_allows('pol_carol', 'skills', 'docker') AS docker;
-- alice reaches bound policies: the default does not apply to her.
SELECT pol_eff('pol_alice')->'policies' AS alice_policies;
-- A new user gets the default at once (and is notified).
SELECT scim.scim_create_user('{"userName": "pol_newbie"}') IS NOT NULL AS created;
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_newbie', 'skills', 'git') AS newbie_git;
-- Clearing the default.
SELECT scim.scim_policy_set_default(NULL);
SELECT * FROM pol_seen();
SELECT pol_eff('pol_bob')->'source' AS source, scim.policy_allows('pol_bob', 'skills', 'git') AS git;
SELECT scim.scim_policy_set_default('pol_base');
SELECT * FROM pol_seen();

-- Inactive, deleted and unknown users -------------------------------------------
SELECT pol_add_member('pol_eng', 'pol_dave');
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_dave', 'skills', 'git') AS dave_active;
SELECT scim.scim_replace('User', uid('pol_dave'), '{"userName": "pol_dave", "active": false}')->'active' AS active;
SELECT * FROM pol_seen();
SELECT pol_eff('pol_dave');
SELECT scim.policy_allows('pol_dave', 'skills', 'git') AS dave_inactive;
SELECT e->'source' AS source, e->'reason' AS reason, e->'groups' AS groups FROM scim.effective_policy_explain('pol_dave') e;
-- A replace that leaves active alone notifies nobody.
SELECT scim.scim_replace('User', uid('pol_dave'), '{"userName": "pol_dave", "active": false, "displayName": "Dave"}') IS NOT NULL AS replaced;
SELECT * FROM pol_seen();
SELECT scim.scim_replace('User', uid('pol_dave'), '{"userName": "pol_dave", "active": true}')->'active' AS active;
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_dave', 'skills', 'git') AS dave_reactivated;
SELECT uid('pol_dave') AS dave_id \gset
SELECT scim.scim_delete('User', :'dave_id');
SELECT * FROM pol_seen();
SELECT pol_eff(:'dave_id');
SELECT scim.policy_allows(:'dave_id', 'skills', 'git') AS deleted_user;
SELECT pol_eff('pol_nobody');
SELECT scim.policy_allows('pol_nobody', 'skills', 'git') AS unknown_user;
SELECT e->'source' AS source, e->'reason' AS reason FROM scim.effective_policy_explain('pol_nobody') e;
-- An externalId shared by two users names nobody.
SELECT scim.scim_create_user('{"userName": "pol_twin1", "externalId": "pol-twin"}') IS NOT NULL AS created,
       scim.scim_create_user('{"userName": "pol_twin2", "externalId": "pol-twin"}') IS NOT NULL AS created;
SELECT * FROM pol_seen();
SELECT scim.effective_policy('pol-twin')->'user' AS ambiguous, scim.policy_allows('pol-twin', 'skills', 'git') AS allowed;

-- Nested groups and a cycle --------------------------------------------------------
-- pol_all contains pol_cyc_a; pol_cyc_a and pol_cyc_b contain each other; erin is in pol_cyc_b.
SELECT scim.scim_policy_put('pol_everyone', '{"allow": {"skills": ["git", "docker"]}, "require": {"hooks": ["audit"]}}') IS NOT NULL AS put;
SELECT scim.scim_policy_bind(gid('pol_all'), 'pol_everyone') AS bound;
SELECT scim.scim_patch('Group', gid('pol_all'), pol_patch(jsonb_build_array(jsonb_build_object('op', 'add', 'path', 'members',
       'value', jsonb_build_array(jsonb_build_object('value', gid('pol_cyc_a'))))))) IS NOT NULL AS patched;
SELECT scim.scim_patch('Group', gid('pol_cyc_a'), pol_patch(jsonb_build_array(jsonb_build_object('op', 'add', 'path', 'members',
       'value', jsonb_build_array(jsonb_build_object('value', gid('pol_cyc_b'))))))) IS NOT NULL AS patched;
SELECT scim.scim_patch('Group', gid('pol_cyc_b'), pol_patch(jsonb_build_array(jsonb_build_object('op', 'add', 'path', 'members',
       'value', jsonb_build_array(jsonb_build_object('value', gid('pol_cyc_a'))))))) IS NOT NULL AS patched;
SELECT * FROM pol_seen();  -- no user below yet
SELECT pol_add_member('pol_cyc_b', 'pol_erin');
SELECT * FROM pol_seen();
SELECT pol_eff('pol_erin');
SELECT scim.policy_allows('pol_erin', 'skills', 'docker') AS docker;
-- Binding a policy to a group notifies the users below it, transitively.
SELECT scim.scim_policy_bind(gid('pol_cyc_a'), 'pol_base') AS bound;
SELECT * FROM pol_seen();
SELECT pol_eff('pol_erin')->'policies' AS policies, pol_eff('pol_erin')->'allow' AS allow;
SELECT scim.scim_policy_unbind(gid('pol_cyc_a'), 'pol_base') AS unbound;
SELECT * FROM pol_seen();
-- Cutting pol_cyc_a out of pol_all loses pol_everyone for erin.
SELECT scim.scim_patch('Group', gid('pol_all'), pol_patch(jsonb_build_array(jsonb_build_object('op', 'remove', 'path',
       format('members[value eq "%s"]', gid('pol_cyc_a')))))) IS NOT NULL AS patched;
SELECT * FROM pol_seen();
SELECT pol_eff('pol_erin')->'policies' AS policies, pol_eff('pol_erin')->'source' AS source;

-- A user in 50 bound groups ----------------------------------------------------------
-- pol_g<i> binds pol_p<i>: skills [git, s<i>, s<i+1>], limit tokens 1000+i.
SELECT count(scim.scim_policy_put('pol_p' || i, jsonb_build_object(
           'allow', jsonb_build_object('skills', jsonb_build_array('git', 's' || i, 's' || (i + 1)), 'models', '*'),
           'deny', jsonb_build_object('models', jsonb_build_array('m' || i)),
           'limits', jsonb_build_object('tokens', 1000 + i))))
  FROM generate_series(1, 50) i;
SELECT count(scim.scim_create_group(jsonb_build_object('displayName', 'pol_g' || i,
           'members', jsonb_build_array(jsonb_build_object('value', uid('pol_frank'))))))
  FROM generate_series(1, 50) i;
SELECT * FROM pol_seen();  -- no bindings yet
SELECT count(scim.scim_policy_bind(gid('pol_g' || i), 'pol_p' || i)) FROM generate_series(1, 50) i;
SELECT line, count(*) FROM pol_seen() line GROUP BY line;  -- one per bind statement
SELECT jsonb_array_length(e->'groups') AS groups, jsonb_array_length(e->'policies') AS policies,
       e->'allow' AS allow, jsonb_array_length(e->'deny'->'models') AS denied_models, e->'limits' AS limits
  FROM pol_eff('pol_frank') e;
SELECT scim.policy_allows('pol_frank', 'skills', 'git') AS git, scim.policy_allows('pol_frank', 'skills', 's2') AS s2,
       scim.policy_allows('pol_frank', 'models', 'claude') AS claude, scim.policy_allows('pol_frank', 'models', 'm50') AS m50;

-- Statement-level notifications ---------------------------------------------------------
-- 150 users added to a bound group in one PATCH: one notification, "all"
-- (over 100 users); with a higher threshold, one notification listing them.
SELECT count(scim.scim_create_user(jsonb_build_object('userName', 'pol_bulk' || i, 'active', true))) FROM generate_series(1, 150) i;
SELECT count(*) AS notifications, count(*) FILTER (WHERE line LIKE '% pol_bulk%') AS each_one_user FROM pol_seen() line;  -- default policy: one per create
SELECT scim.scim_patch('Group', gid('pol_eng'), pol_patch(jsonb_build_array(jsonb_build_object('op', 'add', 'path', 'members',
       'value', (SELECT jsonb_agg(jsonb_build_object('value', id)) FROM scim.users WHERE user_name LIKE 'pol\_bulk%'))))) IS NOT NULL AS patched;
SELECT * FROM pol_seen();
SET scim.policy_notify_max_users = 1000;
SELECT scim.scim_patch('Group', gid('pol_eng'), pol_patch(jsonb_build_array(jsonb_build_object('op', 'remove', 'path',
       'members[value eq "' || uid('pol_bulk7') || '" or value eq "' || uid('pol_bulk8') || '"]')))) IS NOT NULL AS patched;
SELECT * FROM pol_seen();
RESET scim.policy_notify_max_users;
-- A change's details, read by its tenant: sorted user ids (the NOTIFY
-- payload is only the change number).
SELECT pol_add_member('pol_ops', 'pol_bob');
SELECT c.seq = (SELECT max(seq) FROM scim.policy_changes) AS latest, c.all_users, cardinality(c.users) AS users,
       c.users[1]::text = uid('pol_bob') AS is_bob
  FROM scim.scim_policy_changes((SELECT seq FROM pol_capture.cursor)) c;
SELECT * FROM pol_seen();
-- Deleting a bound group notifies its members, also through nested groups
-- (bindings and memberships cascade).
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'pol_temp_inner',
       'members', jsonb_build_array(jsonb_build_object('value', uid('pol_gina'))))) IS NOT NULL AS created;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'pol_temp',
       'members', jsonb_build_array(jsonb_build_object('value', gid('pol_temp_inner'))))) IS NOT NULL AS created;
SELECT scim.scim_policy_bind(gid('pol_temp'), 'pol_quarantine') AS bound;
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_gina', 'skills', 'git') AS quarantined_gina;
SELECT scim.scim_delete('Group', gid('pol_temp'));
SELECT * FROM pol_seen();
SELECT scim.policy_allows('pol_gina', 'skills', 'git') AS gina_back_on_default;
-- Deleting a group that reaches no binding says nothing.
SELECT scim.scim_delete('Group', gid('pol_temp_inner'));
SELECT * FROM pol_seen();
-- Deleting a policy removes its bindings and notifies their users.
SELECT scim.scim_policy_bind(gid('pol_plain'), 'pol_quarantine') AS bound;
SELECT * FROM pol_seen();
SELECT scim.scim_policy_delete('pol_quarantine');
SELECT * FROM pol_seen();
SELECT try($$ SELECT scim.scim_policy_delete('pol_quarantine') $$);
SELECT count(*) AS quarantine_bindings FROM scim.policy_bindings WHERE policy = 'pol_quarantine';
-- Deleting the default policy clears the default and notifies everyone.
SELECT scim.scim_policy_delete('pol_base');
SELECT * FROM pol_seen();
SELECT default_policy FROM scim.tenants WHERE id = scim.current_tenant();

-- Tenant isolation ------------------------------------------------------------------
SELECT scim.scim_tenant_create('pol_tenant') IS NOT NULL AS created;
SELECT gid('pol_eng') AS default_eng, uid('pol_alice') AS default_alice \gset
SET scim.tenant = 'pol_tenant';
-- The default tenant's groups, policies and users do not exist here.
SELECT try(format($$ SELECT scim.scim_policy_bind(%L, 'pol_dev') $$, :'default_eng'));
SELECT scim.scim_create_group('{"displayName": "pol_eng"}') IS NOT NULL AS created;
SELECT try(format($$ SELECT scim.scim_policy_bind(%L, 'pol_dev') $$, gid('pol_eng')));
SELECT try($$ SELECT scim.scim_policy_set_default('pol_dev') $$);
SELECT try($$ SELECT scim.scim_policy_delete('pol_dev') $$);
SELECT pol_eff(:'default_alice');
SELECT pol_eff('pol_alice');
SELECT scim.policy_allows(:'default_alice', 'skills', 'kubectl') AS other_tenant_user;
-- Same names, own documents.
SELECT scim.scim_policy_put('pol_dev', '{"allow": {"skills": ["only-here"]}}') IS NOT NULL AS put;
SELECT scim.scim_create_user('{"userName": "pol_alice"}') IS NOT NULL AS created;
SELECT * FROM pol_seen();
SELECT scim.scim_policy_bind(gid('pol_eng'), 'pol_dev') AS bound;
SELECT pol_add_member('pol_eng', 'pol_alice');
SELECT * FROM pol_seen();
SELECT pol_eff('pol_alice')->'allow' AS here;
RESET scim.tenant;
SELECT pol_eff('pol_alice')->'allow' AS default_tenant;
SELECT scim.policy_allows('pol_alice', 'skills', 'only-here') AS not_here;
-- A role without BYPASSRLS sees only its tenant's policies.
CREATE ROLE pol_reader NOLOGIN;
GRANT USAGE ON SCHEMA scim, pol_capture TO pol_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA scim TO pol_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA scim TO pol_reader;
SET ROLE pol_reader;
SET scim.tenant = 'pol_tenant';
SELECT name FROM scim.policies ORDER BY name;
SELECT scim.policy_allows('pol_alice', 'skills', 'only-here') AS via_rls_role;
RESET scim.tenant;
RESET ROLE;
REVOKE ALL ON ALL TABLES IN SCHEMA scim FROM pol_reader;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA scim FROM pol_reader;
REVOKE ALL ON SCHEMA scim, pol_capture FROM pol_reader;
DROP ROLE pol_reader;

-- Cleanup: the default tenant has no default policy left; stop capturing.
SELECT default_policy FROM scim.tenants WHERE id = scim.current_tenant();
RESET search_path;
DROP SCHEMA pol_capture CASCADE;
