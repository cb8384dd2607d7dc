-- Bounded resources: request limits (GUCs), bad input that must be a
-- SCIM 4xx (never XX000 or a crash), and a backend whose memory stays
-- bounded however many filter shapes and pages it serves. Runs in its
-- own tenant.
SELECT scim.scim_tenant_create('limits') IS NOT NULL AS created;
SET scim.tenant = 'limits';
SELECT scim.scim_token_issue('limits') AS token \gset
SELECT jsonb_build_object('authorization', 'Bearer ' || :'token') AS auth \gset
SELECT count(scim.scim_create_user(jsonb_build_object(
           'userName', 'lim' || i, 'displayName', 'Lim ' || i, 'title', 't' || (i % 3),
           'emails', jsonb_build_array(jsonb_build_object('value', 'lim' || i || '@x.example', 'type', 'work')))))
  FROM generate_series(1, 12) i;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'lim-group',
           'members', (SELECT jsonb_agg(jsonb_build_object('value', id)) FROM scim.users WHERE tenant_id = scim.current_tenant())))
       ->>'displayName' AS group_created;
SELECT gid('lim-group') AS g \gset

-- ── Limits are settings a superuser sets; ServiceProviderConfig tells them.
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'scim.%' ORDER BY name;
-- The allocator setting is the server's (postgresql.conf), not a session's.
SET scim.malloc_trim_threshold = 0;
SET scim.max_bulk_operations = 5;
SET scim.max_results = 7;
SET scim.max_payload_bytes = 4096;
SELECT body->'bulk' AS bulk, body->'filter' AS filter, body->'pagination'->'maxPageSize' AS max_page
  FROM scim.scim_http('GET', '/ServiceProviderConfig');
SELECT jsonb_array_length(scim.scim_list('User', NULL, 1, 100)->'Resources') AS page_capped;
SELECT status, body->>'detail' AS detail
  FROM scim.scim_http('POST', '/Users', '', :'auth', '{"userName": "big", "title": "' || repeat('x', 5000) || '"}');
RESET scim.max_bulk_operations;
RESET scim.max_results;
RESET scim.max_payload_bytes;

-- PATCH: operations per request, values per operation.
SET scim.max_patch_operations = 3;
SELECT status, body->>'detail' AS detail FROM scim.scim_http('PATCH', '/Groups/' || :'g', '', :'auth',
  '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
     {"op": "replace", "path": "displayName", "value": "a"}, {"op": "replace", "path": "displayName", "value": "b"},
     {"op": "replace", "path": "displayName", "value": "c"}, {"op": "replace", "path": "displayName", "value": "d"}]}');
RESET scim.max_patch_operations;
SET scim.max_operation_values = 2;
SELECT status, body->>'detail' AS detail FROM scim.scim_http('PATCH', '/Groups/' || :'g', '', :'auth',
  jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
    'Operations', jsonb_build_array(jsonb_build_object('op', 'remove', 'path', 'members',
      'value', jsonb_build_array(jsonb_build_object('value', uid('lim1')), jsonb_build_object('value', uid('lim2')),
                                 jsonb_build_object('value', uid('lim3'))))))::text);
SELECT try($$SELECT scim.scim_create_group('{"displayName": "three", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}')$$);
SELECT try($$SELECT scim.scim_replace('Group', gid('lim-group'), '{"displayName": "lim-group", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}')$$);
RESET scim.max_operation_values;
-- Nothing of the refused requests was written.
SELECT r->>'displayName' AS name, jsonb_array_length(r->'members') AS members
  FROM scim.scim_get('Group', :'g') r;
SELECT count(*) AS three_groups FROM scim.groups WHERE display_name = 'three';

-- Password hashes: a Bulk request that would set more passwords than
-- allowed is refused before any operation runs.
SET scim.max_password_hashes = 1;
SELECT status, body->>'detail' AS detail FROM scim.scim_http('POST', '/Bulk', '', :'auth',
  '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
     {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "pw-a", "password": "Secret-1"}},
     {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "pw-b", "password": "Secret-2"}}]}');
SELECT count(*) AS pw_users FROM scim.users WHERE user_name LIKE 'pw-%';
RESET scim.max_password_hashes;

-- An ordinary role cannot raise its own limits.
CREATE ROLE scim_limits_probe;
SET ROLE scim_limits_probe;
SET scim.max_patch_operations = 1000000;
RESET ROLE;
DROP ROLE scim_limits_probe;

-- ── Bad input: JSON serde cannot hold (nested deeper than 128 levels, a
-- number beyond f64), through every jsonb argument → 400, not XX000.
SELECT ('{"userName": "deep", "title": ' || repeat('[', 200) || repeat(']', 200) || '}') AS deep \gset
SELECT '{"userName": "huge", "x": 1e400}' AS huge \gset
SELECT try(format('SELECT scim.scim_create_user(%L)', :'deep'));
SELECT try(format('SELECT scim.scim_create_user(%L)', :'huge'));
SELECT try(format('SELECT scim.scim_create_group(%L)', :'deep'));
SELECT try(format('SELECT scim.scim_replace(''User'', uid(''lim1''), %L)', :'huge'));
SELECT try(format('SELECT scim.scim_patch(''User'', uid(''lim1''), %L)', :'deep'));
SELECT try(format('SELECT scim.scim_matches(%L, ''userName pr'')', :'huge'));
SELECT try(format('SELECT scim.scim_bulk(%L)', :'deep'));
SELECT try(format('SELECT scim.scim_policy_put(''p'', %L)', :'deep'));
SELECT try(format('INSERT INTO scim.policies (tenant_id, name, document) VALUES (scim.current_tenant(), ''p'', %L)', :'huge'));
SELECT status, body->>'scimType' AS scim_type
  FROM scim.scim_http('GET', '/Users', '', (:'auth')::jsonb || jsonb_build_object('x', (repeat('[', 200) || repeat(']', 200))::jsonb));
SELECT count(*) AS nothing_stored FROM scim.users WHERE user_name IN ('deep', 'huge');

-- The same bodies over HTTP (text) are 400 too.
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Users', '', :'auth', :'deep');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Users', '', :'auth', :'huge');

-- NUL (\u0000) in any string of a body, in a member name, in a bulkId, in
-- a query parameter: 400 invalidValue.
SELECT status, body->>'scimType' AS scim_type, body->>'detail' AS detail
  FROM scim.scim_http('POST', '/Users', '', :'auth', '{"userName": "nul\u0000user"}');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Users', '', :'auth', '{"userName": "n", "x\u0000": 1}');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Bulk', '', :'auth',
  '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "\u0000", "data": {"userName": "b0"}}]}');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('PATCH', '/Users/' || uid('lim1'), '', :'auth',
  '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": "a\u0000"}]}');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Users/.search', '', :'auth', '{"filter": "userName eq \"\u0000\""}');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('GET', '/Users', 'filter=userName%20eq%20%22a%00%22', :'auth');
SELECT status FROM scim.scim_http('GET', '/Users/%00', '', :'auth');
SELECT count(*) AS nothing_stored FROM scim.users WHERE user_name IN ('n', 'b0') OR user_name LIKE 'nul%';

-- Paging numbers at the integer limits: no overflow, a page (or 400).
SELECT status, body->'totalResults' AS total, body->'startIndex' AS start, jsonb_array_length(body->'Resources') AS n
  FROM scim.scim_http('GET', '/Users', 'startIndex=9223372036854775807&count=9223372036854775807', :'auth');
SELECT status, body->'startIndex' AS start, jsonb_array_length(body->'Resources') AS n
  FROM scim.scim_http('GET', '/Users', 'startIndex=-9223372036854775808&count=-9223372036854775808', :'auth');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('GET', '/Users', 'startIndex=9223372036854775808', :'auth');
SELECT status, body->'totalResults' AS total, jsonb_array_length(body->'Resources') AS n
  FROM scim.scim_http('POST', '/.search', '', :'auth', '{"startIndex": 9223372036854775807, "count": 9223372036854775807}');
SELECT status, body->'totalResults' AS total, jsonb_array_length(body->'Resources') AS n
  FROM scim.scim_http('POST', '/.search', '', :'auth', '{"startIndex": 12, "count": 9223372036854775807}');
SELECT status, jsonb_array_length(body->'Resources') AS n, body ? 'nextCursor' AS more
  FROM scim.scim_http('GET', '/Users', 'count=2&cursor=' || translate(rtrim(encode(convert_to('{"offset": 9223372036854775807}', 'UTF8'), 'base64'), '='), '+/', '-_'), :'auth');
SELECT jsonb_array_length(scim.scim_list('User', NULL, 2147483647, 2147483647)->'Resources') AS n;

-- ── One backend, thousands of distinct filter shapes and pages: the plan
-- cache is an LRU (scim.plan_cache_size, default 128) that frees what it
-- evicts, and paging values are parameters, so memory stays bounded.
CREATE TEMP TABLE shapes AS
WITH attrs(a) AS (VALUES ('userName'), ('displayName'), ('title'), ('nickName'), ('userType'), ('locale'),
                         ('timezone'), ('externalId'), ('name.givenName'), ('name.familyName'), ('emails.value'),
                         ('emails.type'), ('addresses.locality'), ('phoneNumbers.value'), ('profileUrl'),
                         ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department')),
     ops(o) AS (VALUES ('eq'), ('ne'), ('co'), ('sw'), ('ew'), ('gt'), ('lt'), ('ge'), ('le')),
     leaf AS (SELECT row_number() OVER (ORDER BY a, o) AS n, format('%s %s "x"', a, o) AS f FROM attrs, ops)
SELECT row_number() OVER (ORDER BY l1.n, j, l2.n) AS n, format('%s %s %s', l1.f, j, l2.f) AS f
  FROM leaf l1, leaf l2, (VALUES ('and'), ('or')) AS js(j)
 WHERE l2.n <> l1.n
 ORDER BY n LIMIT 5400;
SELECT count(DISTINCT f) AS distinct_shapes FROM shapes;
CREATE FUNCTION pg_temp.backend_bytes() RETURNS bigint LANGUAGE sql AS
  $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
-- Warm up: fill the plan cache, then measure from there.
SELECT count(scim.scim_list('User', f, 1, 2)) AS warm FROM shapes WHERE n <= 400;
SELECT count(scim.scim_list('User', NULL, i, 1)) AS warm FROM generate_series(1, 50) i;
SELECT pg_temp.backend_bytes() AS before \gset
SELECT count(scim.scim_list('User', f, 1, 2)) AS shapes_run FROM shapes WHERE n > 400;
SELECT count(scim.scim_list('User', NULL, i, 1)) AS pages_run FROM generate_series(1, 5000) i;
SELECT count(scim.scim_list('User', 'title eq "t1"', i, 1)) AS filtered_pages_run FROM generate_series(1, 5000) i;
-- Bound: 16 MB over the warmed-up backend (before the fix, 700 shapes
-- alone grew a backend by ~495 MB).
SELECT pg_temp.backend_bytes() - :before < 16 * 1024 * 1024 AS memory_bounded;

RESET scim.tenant;
