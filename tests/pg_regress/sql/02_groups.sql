-- Groups and membership.
SELECT scim.scim_create_user('{"userName": "carol", "displayName": "Carol C"}')->>'userName' AS u;
SELECT scim.scim_create_user('{"userName": "dave"}')->>'userName' AS u;

SELECT r->>'displayName' AS name, jsonb_array_length(r->'members') AS n_members,
       -- members.display is returned only on request (returned: "request").
       (SELECT array_agg(m->>'display' ORDER BY m->>'display')
          FROM jsonb_array_elements(scim.scim_get('Group', r->>'id', 'members.display')->'members') m) AS displays,
       r->'members'->0 ? 'display' AS display_by_default,
       (SELECT bool_and(m->>'type' = 'User' AND m->>'$ref' = '/Users/' || (m->>'value')) FROM jsonb_array_elements(r->'members') m) AS refs_ok,
       r->'meta'->>'version' AS version
  FROM scim.scim_create_group(jsonb_build_object(
        'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'),
        'displayName', 'Engineering',
        'externalId', 'eng-1',
        'members', jsonb_build_array(
            jsonb_build_object('value', uid('carol'), '$ref', null),
            jsonb_build_object('value', uid('dave'), 'display', 'ignored'),
            jsonb_build_object('value', uid('carol')))))
       AS r;

-- A user's groups attribute is derived from membership.
SELECT scim.scim_get('User', uid('carol'))->'groups'->0->>'display' AS carol_group;
-- ... in group id order, however the memberships were written, in a
-- single read, a list page and a write's answer alike.
SELECT count(scim.scim_create_group(jsonb_build_object('displayName', 'Order ' || k,
       'members', jsonb_build_array(jsonb_build_object('value', uid('dave')))))) AS order_groups
  FROM generate_series(1, 6) k;
SELECT jsonb_array_length(g) AS n, g = (SELECT jsonb_agg(e ORDER BY (e->>'value')::uuid) FROM jsonb_array_elements(g) e) AS in_id_order
  FROM (SELECT scim.scim_get('User', uid('dave'))->'groups' AS g
        UNION ALL SELECT scim.scim_list('User', 'userName eq "dave"')->'Resources'->0->'groups'
        UNION ALL SELECT scim.scim_list('User', 'userName sw "dave"')->'Resources'->0->'groups'
        UNION ALL SELECT scim.scim_patch('User', uid('dave'), '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "nickName", "value": "D"}]}')->'groups') x;
SELECT count(scim.scim_delete('Group', id::text)) AS order_groups_deleted FROM scim.groups WHERE display_name LIKE 'Order %';

-- displayName is unique per tenant, case-insensitively.
SELECT try($$ SELECT scim.scim_create_group('{"displayName": "ENGINEERING"}') $$);
-- Unknown member: 400 invalidValue naming the id; the whole write fails.
SELECT try($$ SELECT scim.scim_create_group('{"displayName": "Ghosts", "members": [{"value": "00000000-0000-0000-0000-0000000000aa"}]}') $$);
SELECT try($$ SELECT scim.scim_create_group('{"displayName": "Ghosts", "members": [{"value": "nope"}]}') $$);
SELECT try($$ SELECT scim.scim_create_group('{"displayName": "Ghosts", "members": [{"display": "no value"}]}') $$);
SELECT try($$ SELECT scim.scim_create_group('{"members": []}') $$);
SELECT count(*) AS groups FROM scim.groups;

-- Nested groups: a group can be a member; not of itself.
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'All', 'members',
       jsonb_build_array(jsonb_build_object('value', gid('Engineering'), 'type', 'Group'))))->'members'->0->>'type' AS nested_type;
SELECT try(format($$ SELECT scim.scim_replace('Group', %L, %L) $$, gid('All'),
       jsonb_build_object('displayName', 'All', 'members', jsonb_build_array(jsonb_build_object('value', gid('All'))))));

-- excludedAttributes=members skips the member list.
SELECT scim.scim_get('Group', gid('Engineering'), NULL, 'members') ? 'members' AS has_members;
SELECT scim.scim_get('Group', gid('Engineering'), 'displayName') - 'id' AS only_name;

-- PUT computes the membership delta: dave stays, carol goes.
SELECT jsonb_array_length(r->'members') AS n,
       scim.scim_get('Group', r->>'id', 'members.display')->'members'->0->>'display' AS who, r->'meta'->>'version' AS version
  FROM scim.scim_replace('Group', gid('Engineering'), jsonb_build_object(
        'displayName', 'Engineering', 'members', jsonb_build_array(jsonb_build_object('value', uid('dave'))))) AS r;
-- A failing PUT (unknown member) leaves name and members untouched.
SELECT try(format($$ SELECT scim.scim_replace('Group', %L, %L) $$, gid('Engineering'),
       jsonb_build_object('displayName', 'Renamed', 'members', jsonb_build_array(jsonb_build_object('value', '00000000-0000-0000-0000-0000000000aa')))));
SELECT display_name, version, (SELECT count(*) FROM scim.members m WHERE m.group_id = g.id) AS members
  FROM scim.groups g WHERE display_name = 'Engineering';

-- Deleting a user removes its memberships (and bumps the group's version).
SELECT scim.scim_delete('User', uid('dave'));
SELECT (SELECT count(*) FROM scim.members m WHERE m.group_id = g.id) AS members, version
  FROM scim.groups g WHERE display_name = 'Engineering';

-- Deleting a group removes its member rows and its memberships in other groups.
SELECT scim.scim_delete('Group', gid('Engineering'));
SELECT count(*) AS member_rows FROM scim.members;
SELECT scim.scim_get('Group', gid('All'))->'members' AS all_members;
