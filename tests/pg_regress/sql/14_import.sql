-- scim_import: users validated like scim_create_user, written by one
-- statement, one result per item in input order.
SELECT scim.scim_tenant_create('imp') IS NOT NULL AS created;
SET scim.tenant = 'imp';
SELECT scim.scim_create_user('{"userName": "taken@imp.example"}') IS NOT NULL AS existing;
SELECT ordinality, status, id IS NOT NULL AS has_id, scim_type, detail
  FROM scim.scim_import(ARRAY[
    '{"userName": "ann@imp.example", "displayName": "Ann", "emails": [{"value": "Ann@Imp.Example", "type": "work"}]}',
    '{"displayName": "no userName"}',
    '{"userName": "TAKEN@imp.example"}',
    '{"userName": "bob@imp.example", "active": false}',
    '{"userName": "BOB@IMP.EXAMPLE"}',
    '{"userName": 42}',
    NULL,
    '{"userName": "cy@imp.example", "externalId": "ext-cy", "password": "s3cret-pw"}'
  ]::jsonb[]);
-- The imported users are what scim_create_user would have stored: found
-- by every index, rendered the same, in the change feed, password usable.
SELECT u->>'userName' AS user_name, u->>'displayName' AS display_name, u->'active' AS active,
       u->'meta'->>'resourceType' AS type, u ? 'password' AS password_shown
  FROM jsonb_array_elements(scim.scim_list('User', NULL, 1, 10, 'userName')->'Resources') u;
SELECT (scim.scim_list('User', 'emails[type eq "work" and value eq "ann@imp.example"]')->>'totalResults') AS by_email,
       (scim.scim_list('User', 'externalId eq "ext-cy"')->>'totalResults') AS by_external_id,
       (scim.scim_list('User', 'userName eq "BOB@imp.example"')->>'totalResults') AS by_user_name;
SELECT count(*) AS change_feed_creates FROM scim.changes c JOIN scim.tenants t ON t.id = c.tenant_id
 WHERE t.name = 'imp' AND c.operation = 'create';
SELECT password_hash IS NOT NULL AND password_hash <> 's3cret-pw' AS password_hashed
  FROM scim.users WHERE user_name = 'cy@imp.example';
-- Nothing at all, and limits: more items than scim.max_bulk_operations is
-- 413 before anything is written.
SELECT count(*) AS empty_import FROM scim.scim_import(ARRAY[]::jsonb[]);
SET scim.max_bulk_operations = 2;
SELECT try($$ SELECT * FROM scim.scim_import(ARRAY['{"userName": "x1"}', '{"userName": "x2"}', '{"userName": "x3"}']::jsonb[]) $$);
RESET scim.max_bulk_operations;
SELECT count(*) AS users_after FROM scim.users u JOIN scim.tenants t ON t.id = u.tenant_id WHERE t.name = 'imp';
-- A registered attribute declaring uniqueness is checked per item, like a
-- create: against the tenant (case-insensitively unless caseExact) and the
-- earlier items of the same import.
SELECT scim.scim_extension_schema_put('User', '{"id": "urn:imp:badge:1.0", "attributes": [
  {"name": "badge", "type": "string", "uniqueness": "server"},
  {"name": "serial", "type": "integer", "uniqueness": "server"}]}') ->> 'id' AS registered;
SELECT scim.scim_create_user('{"userName": "holder@imp.example", "urn:imp:badge:1.0": {"badge": "B-1", "serial": 7}}') IS NOT NULL AS holder;
SELECT ordinality, status, scim_type, detail
  FROM scim.scim_import(ARRAY[
    '{"userName": "u1@imp.example", "urn:imp:badge:1.0": {"badge": "b-1"}}',
    '{"userName": "u2@imp.example", "urn:imp:badge:1.0": {"badge": "B-2"}}',
    '{"userName": "u3@imp.example", "urn:imp:badge:1.0": {"badge": "b-2"}}',
    '{"userName": "u4@imp.example", "urn:imp:badge:1.0": {"serial": 7}}',
    '{"userName": "u5@imp.example", "urn:imp:badge:1.0": {"badge": "B-5", "serial": 8}}',
    '{"userName": "u6@imp.example", "urn:imp:badge:1.0": {"serial": 8}}',
    '{"userName": "u7@imp.example"}'
  ]::jsonb[]);
SELECT u->>'userName' AS user_name, u->'urn:imp:badge:1.0' AS badge
  FROM jsonb_array_elements(scim.scim_list('User', 'userName sw "u"', 1, 10, 'userName')->'Resources') u;
RESET scim.tenant;
DELETE FROM scim.tenants WHERE name = 'imp';
