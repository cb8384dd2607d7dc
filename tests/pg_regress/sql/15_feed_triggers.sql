-- The statement triggers every write fires (src/triggers/): the change
-- feed of users and groups and the policy notifications of users, driven
-- here by direct multi-row DML across two tenants, so each statement's
-- transition tables hold several rows of several tenants.
SELECT scim.scim_tenant_create('feed-a') IS NOT NULL AS a, scim.scim_tenant_create('feed-b') IS NOT NULL AS b;
SELECT id AS ta FROM scim.tenants WHERE name = 'feed-a' \gset
SELECT id AS tb FROM scim.tenants WHERE name = 'feed-b' \gset
-- Tenant A has a default policy (a new active user gets it: notified);
-- tenant B has none (a new user changes nobody's policy: not notified).
SET scim.tenant = 'feed-a';
SELECT scim.scim_policy_put('feed_base', '{"allow": {"skills": ["git"]}}') IS NOT NULL AS put;
SELECT scim.scim_policy_set_default('feed_base');
RESET scim.tenant;
SELECT coalesce(max(seq), 0) AS policy_mark FROM scim.policy_changes \gset
SELECT coalesce(max(pending_id), 0) AS feed_mark FROM scim.changes \gset
CREATE FUNCTION feed_seen() RETURNS TABLE (tenant text, kind text, name text, operation text, version bigint)
LANGUAGE sql AS $$
    SELECT t.name, c.resource_type, coalesce(u.user_name, g.display_name, '(gone)'), c.operation, c.version
      FROM scim.changes c JOIN scim.tenants t ON t.id = c.tenant_id
      LEFT JOIN scim.users u ON c.resource_type = 'User' AND u.tenant_id = c.tenant_id AND u.id = c.resource_id
      LEFT JOIN scim.groups g ON c.resource_type = 'Group' AND g.tenant_id = c.tenant_id AND g.id = c.resource_id
     WHERE c.pending_id > current_setting('feed.mark')::bigint AND t.name LIKE 'feed-%'
     ORDER BY 1, 2, 3, c.pending_id
$$;
CREATE FUNCTION policy_seen() RETURNS TABLE (tenant text, all_users boolean, users text)
LANGUAGE sql AS $$
    SELECT t.name, c.all_users,
           (SELECT string_agg(u.user_name, ',' ORDER BY u.user_name)
              FROM unnest(c.users) x LEFT JOIN scim.users u ON u.id = x)
      FROM scim.policy_changes c JOIN scim.tenants t ON t.id = c.tenant_id
     WHERE c.seq > current_setting('feed.policy_mark')::bigint AND t.name LIKE 'feed-%'
     ORDER BY 1, c.seq
$$;
CREATE PROCEDURE feed_mark() LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('feed.mark', (SELECT coalesce(max(pending_id), 0)::text FROM scim.changes), false);
    PERFORM set_config('feed.policy_mark', (SELECT coalesce(max(seq), 0)::text FROM scim.policy_changes), false);
END
$$;
CALL feed_mark();

-- One INSERT, five users in two tenants: five creates; one notification,
-- tenant A's active users (not the inactive one).
INSERT INTO scim.users (tenant_id, user_name, active, resource)
VALUES (:'ta', 'a1', true, '{}'), (:'tb', 'b1', true, '{}'), (:'ta', 'a2', NULL, '{}'),
       (:'ta', 'a3', false, '{}'), (:'tb', 'b2', false, '{}');
SELECT * FROM feed_seen();
SELECT * FROM policy_seen();
CALL feed_mark();

-- One UPDATE: a1 deactivated, a2 from NULL to true (activation in the
-- feed, but NULL already meant active: no policy change), b1 rewritten
-- with a new version (update), b2 rewritten unchanged (nothing).
UPDATE scim.users SET
    active = CASE user_name WHEN 'a1' THEN false WHEN 'a2' THEN true ELSE active END,
    version = CASE user_name WHEN 'b1' THEN version + 1 ELSE version END
 WHERE user_name IN ('a1', 'a2', 'b1', 'b2');
SELECT * FROM feed_seen();
SELECT * FROM policy_seen();
CALL feed_mark();

-- Groups: created, renamed with a new version, deleted.
INSERT INTO scim.groups (tenant_id, display_name, resource)
VALUES (:'ta', 'ga', '{}'), (:'tb', 'gb', '{}');
UPDATE scim.groups SET display_name = 'ga2', version = version + 1 WHERE display_name = 'ga';
DELETE FROM scim.groups WHERE display_name = 'gb';
SELECT * FROM feed_seen();
CALL feed_mark();

-- One DELETE over both tenants: a delete each; each tenant's deleted
-- users notified (their policy is gone).
DELETE FROM scim.users WHERE user_name IN ('a1', 'b1');
SELECT * FROM feed_seen();
SELECT tenant, all_users, users IS NULL AS users_gone FROM policy_seen();
CALL feed_mark();

-- A rolled-back statement leaves neither feed rows nor notifications.
BEGIN;
INSERT INTO scim.users (tenant_id, user_name, resource) VALUES (:'ta', 'a9', '{}');
ROLLBACK;
SELECT count(*) AS after_rollback FROM feed_seen();
SELECT count(*) AS after_rollback FROM policy_seen();

-- Deleting a tenant records nothing for the users that go with it.
CALL feed_mark();
DELETE FROM scim.tenants WHERE id = :'tb';
SELECT count(*) AS tenant_b_rows FROM scim.changes
 WHERE tenant_id = :'tb' AND pending_id > current_setting('feed.mark')::bigint;
-- A feed nobody reads is bounded by its retention too: the prune deletes
-- by age, pending rows included (they were once kept for ever); a young
-- pending change stays, and a reader still gets it.
SET scim.tenant = 'feed-a';
SELECT count(scim.scim_create_user(jsonb_build_object('userName', 'unread-' || i))) AS unread_writes
  FROM generate_series(1, 3) i;
UPDATE scim.changes SET at = at - interval '8 days'
 WHERE change_no IS NULL AND resource_type = 'User' AND operation = 'create';
SELECT count(*) > 0 AS pending_old FROM scim.changes WHERE change_no IS NULL AND at < now() - interval '7 days';
SELECT scim.scim_changes_prune() >= 3 AS pruned;
SELECT count(*) AS pending_old_after FROM scim.changes WHERE at < now() - interval '7 days';
SELECT scim.scim_create_user(jsonb_build_object('userName', 'unread-young'))->>'id' AS young_id \gset
SELECT scim.scim_changes_prune() AS pruned_young;
SELECT count(*) AS young_read FROM scim.scim_changes(NULL, 1000) c
 WHERE c.resource_id = :'young_id' AND c.operation = 'create';
SELECT scim.scim_policy_set_default(NULL);
-- Whether the tenant has a default policy is read once per view (a create
-- per row of one statement asks each time), and again once this backend
-- writes scim.tenants: one REPEATABLE READ transaction (one snapshot), the
-- default set between two statements of creates. Only the later two
-- users are notified (and everyone, for the new default).
CALL feed_mark();
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(scim.scim_create_user(jsonb_build_object('userName', 'cache-before-' || i))) AS before_default
  FROM generate_series(1, 2) i;
SELECT scim.scim_policy_set_default('feed_base');
SELECT count(scim.scim_create_user(jsonb_build_object('userName', 'cache-after-' || i))) AS after_default
  FROM generate_series(1, 2) i;
COMMIT;
SELECT * FROM policy_seen();
SELECT scim.scim_policy_set_default(NULL);
RESET scim.tenant;
-- The prunes read what is old enough (BRIN ranges of at), not the whole
-- table: the cutoff is a value, so it is an index condition (a volatile
-- clock_timestamp() - keep in the WHERE clause was evaluated on every row
-- of both tables, every 4,096 logged requests). 30,000 young rows each;
-- a BRIN range an earlier test backdated may be read, not half the table.
BEGIN;
INSERT INTO scim.provisioning_log (method, path, status)
SELECT 'GET', '/Users', 200 FROM generate_series(1, 30000);
INSERT INTO scim.changes (tenant_id, resource_type, resource_id, operation)
SELECT '00000000-0000-0000-0000-000000000000', 'User', gen_random_uuid(), 'create' FROM generate_series(1, 30000);
SELECT brin_summarize_new_values('scim.provisioning_log_at') > 0 AS log_summarized,
       brin_summarize_new_values('scim.changes_at') > 0 AS changes_summarized;
ANALYZE scim.provisioning_log, scim.changes;
SELECT pg_stat_get_xact_blocks_fetched('scim.provisioning_log'::regclass) AS log_before,
       pg_stat_get_xact_blocks_fetched('scim.changes'::regclass) AS changes_before \gset
SELECT scim.scim_provisioning_log_prune() AS pruned_log;  -- and the feed's
SELECT pg_stat_get_xact_blocks_fetched('scim.provisioning_log'::regclass) - :log_before
         < pg_relation_size('scim.provisioning_log') / 8192 / 2 AS log_prune_reads_little,
       pg_stat_get_xact_blocks_fetched('scim.changes'::regclass) - :changes_before
         < pg_relation_size('scim.changes') / 8192 / 2 AS changes_prune_reads_little;
ROLLBACK;
DROP FUNCTION feed_seen();
DROP FUNCTION policy_seen();
DROP PROCEDURE feed_mark();
