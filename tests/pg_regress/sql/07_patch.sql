-- scim_patch end to end: IdP request shapes, atomicity, membership deltas.
SET scim.tenant = 'patching';
SELECT scim.scim_tenant_create('patching') IS NOT NULL AS created;
SELECT scim.scim_create_user('{"userName": "pat", "emails": [{"value": "pat@x.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}}')->>'userName' AS u;
SELECT scim.scim_create_user(jsonb_build_object('userName', 'm' || i)) IS NOT NULL FROM generate_series(1, 4) i;
SELECT scim.scim_create_group('{"displayName": "crew"}')->>'displayName' AS g;

CREATE FUNCTION p(ops jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'), 'Operations', ops) $$;

-- Entra: capitalised ops, string booleans, filtered paths, dotted/URN keys.
SELECT r->'active' AS active, r->'emails' AS emails, r->'name' AS name, r->'displayName' AS display,
       r->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' AS ent, r->'meta'->>'version' AS version
  FROM scim.scim_patch('User', uid('pat'), p('[
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "pat@home.org"},
        {"op": "Replace", "path": "name.familyName", "value": "Smith"},
        {"op": "replace", "value": {"displayName": "Pat S", "name.givenName": "Pat",
           "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"}},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "boss-id"}]')) r;
-- Okta: no-path replace of active.
SELECT r->'active' AS active FROM scim.scim_patch('User', uid('pat'), p('[{"op": "replace", "value": {"active": true}}]')) r;

-- Bad input: right SCIM error, nothing changed (version stays).
SELECT try(format($$ SELECT scim.scim_patch('User', %L, %L) $$, uid('pat'), t)) AS result
  FROM unnest(ARRAY[
    '[]',
    '{"Operations": [{"op": "add", "path": "title", "value": "x"}]}',
    p('[]')::text,
    p('[{"op": "upsert", "path": "title", "value": "x"}]')::text,
    p('[{"op": "add", "path": "title[", "value": "x"}]')::text,
    p('[{"op": "add", "path": "bogus", "value": "x"}]')::text,
    p('[{"op": "replace", "path": "active", "value": "maybe"}]')::text,
    p('[{"op": "replace", "path": "id", "value": "x"}]')::text,
    p('[{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]')::text,
    p('[{"op": "remove"}]')::text,
    p('[{"op": "remove", "path": "userName"}]')::text,
    p('[{"op": "replace", "path": "title", "value": "fine"}, {"op": "replace", "path": "active", "value": 3}]')::text
  ]) AS t;
SELECT version, resource ? 'title' AS has_title FROM scim.users WHERE id = uid('pat')::uuid;
SELECT try(format($$ SELECT scim.scim_patch('User', %L, %L, 'W/"1"') $$, uid('pat'), p('[{"op": "replace", "path": "title", "value": "x"}]')));

-- Groups: Entra adds several members with $ref null; legacy remove form;
-- Okta remove-by-filter + add in one request; replace with the full list.
SELECT r->'meta'->>'version' AS version, r ? 'members' AS returns_members
  FROM scim.scim_patch('Group', gid('crew'), p(jsonb_build_array(jsonb_build_object('op', 'Add', 'path', 'members', 'value',
       jsonb_build_array(jsonb_build_object('value', uid('m1'), '$ref', NULL), jsonb_build_object('value', uid('m2'), '$ref', NULL)))))) r;
SELECT array_agg(u.user_name ORDER BY u.user_name) AS members FROM scim.members m JOIN scim.users u ON u.id = m.member_id WHERE m.group_id = gid('crew')::uuid;
SELECT scim.scim_patch('Group', gid('crew'), p(jsonb_build_array(jsonb_build_object('op', 'Remove', 'path', 'members', 'value',
       jsonb_build_array(jsonb_build_object('value', uid('m1')))))))->'meta'->>'version' AS version;
SELECT scim.scim_patch('Group', gid('crew'), p(jsonb_build_array(
         jsonb_build_object('op', 'remove', 'path', format('members[value eq "%s"]', uid('m2'))),
         jsonb_build_object('op', 'add', 'path', 'members', 'value', jsonb_build_array(jsonb_build_object('value', uid('m3'))))
       )))->'meta'->>'version' AS version;
SELECT array_agg(u.user_name ORDER BY u.user_name) AS members FROM scim.members m JOIN scim.users u ON u.id = m.member_id WHERE m.group_id = gid('crew')::uuid;
SELECT scim.scim_patch('Group', gid('crew'), p(jsonb_build_array(jsonb_build_object('op', 'replace', 'path', 'members', 'value',
       jsonb_build_array(jsonb_build_object('value', uid('m1')), jsonb_build_object('value', uid('m4')))))))->'meta'->>'version' AS version;
SELECT array_agg(u.user_name ORDER BY u.user_name) AS members FROM scim.members m JOIN scim.users u ON u.id = m.member_id WHERE m.group_id = gid('crew')::uuid;
-- Removing a non-member succeeds and changes nothing (version stays).
SELECT scim.scim_patch('Group', gid('crew'), p(jsonb_build_array(jsonb_build_object('op', 'remove', 'path', format('members[value eq "%s"]', uid('pat'))))))->'meta'->>'version' AS version;
-- Okta rename with id in the value; unknown member fails the whole request.
SELECT scim.scim_patch('Group', gid('crew'), p(jsonb_build_array(jsonb_build_object('op', 'replace', 'value',
       jsonb_build_object('id', gid('crew'), 'displayName', 'crew2')))))->>'displayName' AS renamed;
SELECT try(format($$ SELECT scim.scim_patch('Group', %L, %L) $$, gid('crew2'), p(jsonb_build_array(
       jsonb_build_object('op', 'replace', 'path', 'displayName', 'value', 'crew3'),
       jsonb_build_object('op', 'add', 'path', 'members', 'value', jsonb_build_array(jsonb_build_object('value', '00000000-0000-0000-0000-0000000000ff'))))))) AS result;
SELECT display_name, scim.scim_get('Group', g.id::text)->'meta'->>'version' AS version,
       (SELECT count(*) FROM scim.members m WHERE m.group_id = g.id) AS members
  FROM scim.groups g WHERE g.id = gid('crew2')::uuid;
-- Remove all members (no filter, no value).
SELECT scim.scim_patch('Group', gid('crew2'), p('[{"op": "remove", "path": "members"}]'))->'meta'->>'version' AS version;
SELECT count(*) AS left_members FROM scim.members WHERE group_id = gid('crew2')::uuid;
-- Membership-only PATCHes take no row lock: each adds one row to
-- scim.member_writes, and the group's version is the row's plus their sum.
-- Forty of them: the version steps by exactly one each time, rows are
-- folded (bounded), and filters, If-Match and rendering agree.
CREATE TEMP TABLE seen (i int, version text, last_modified timestamptz);
DO $$
DECLARE r jsonb;
BEGIN
    FOR i IN 1..40 LOOP
        r := scim.scim_patch('Group', gid('crew2'), p(jsonb_build_array(jsonb_build_object(
               'op', CASE WHEN i % 2 = 1 THEN 'add' ELSE 'remove' END, 'path', 'members',
               'value', jsonb_build_array(jsonb_build_object('value', uid('m1')))))));
        INSERT INTO seen VALUES (i, r->'meta'->>'version', (r->'meta'->>'lastModified')::timestamptz);
    END LOOP;
END $$;
SELECT count(DISTINCT version) AS distinct_versions,
       bool_and(version = format('W/"%s"', (SELECT (replace(replace(version, 'W/"', ''), '"', ''))::int FROM seen WHERE i = 1) + i - 1)) AS one_step_each,
       bool_and(last_modified >= coalesce((SELECT s2.last_modified FROM seen s2 WHERE s2.i = seen.i - 1), last_modified)) AS last_modified_moves
  FROM seen;
SELECT count(*) <= 33 AS rows_folded, sum(n) AS writes_counted FROM scim.member_writes WHERE group_id = gid('crew2')::uuid;
SELECT (SELECT version FROM seen WHERE i = 40) = scim.scim_get('Group', gid('crew2'))->'meta'->>'version' AS get_agrees,
       scim.scim_list('Group', format('meta.version eq %s', to_json((SELECT version FROM seen WHERE i = 40))))->'totalResults' AS filter_finds_it,
       scim.scim_list('Group', format('meta.lastModified ge "%s"', (SELECT to_char(last_modified AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM seen WHERE i = 40)))->'totalResults' AS last_modified_filter;
SELECT try(format($$ SELECT scim.scim_patch('Group', %L, %L, %L) $$, gid('crew2'),
       p('[{"op": "replace", "path": "displayName", "value": "crew2b"}]'), (SELECT version FROM seen WHERE i = 39))) AS stale_if_match;
SELECT scim.scim_patch('Group', gid('crew2'), p('[{"op": "replace", "path": "displayName", "value": "crew2b"}]'),
       (SELECT version FROM seen WHERE i = 40))->'meta'->>'version' = format('W/"%s"', (SELECT replace(replace(version, 'W/"', ''), '"', '')::int + 1 FROM seen WHERE i = 40)) AS attribute_write_steps_on;
-- Deleting the group takes its rows along.
SELECT scim.scim_delete('Group', gid('crew2b'));
SELECT count(*) AS rows_left FROM scim.member_writes WHERE group_id NOT IN (SELECT id FROM scim.groups);
DROP FUNCTION p(jsonb);
RESET scim.tenant;
