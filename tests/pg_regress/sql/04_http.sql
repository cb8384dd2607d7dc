-- scim_http: the HTTP entry point, as the gateway and PostgREST call it.
SELECT scim.scim_token_issue('regress') AS token \gset
SELECT jsonb_build_object('authorization', 'Bearer ' || :'token') AS auth \gset

-- Discovery needs no token.
SELECT status, headers->>'Content-Type' AS ctype, body->'patch' AS patch, body->'bulk'->'maxOperations' AS max_ops
  FROM scim.scim_http('GET', '/ServiceProviderConfig');
SELECT status, body->'totalResults' AS n FROM scim.scim_http('GET', '/ResourceTypes');
SELECT status, body->>'name' AS name FROM scim.scim_http('GET', '/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User');
SELECT status, body->>'detail' AS detail FROM scim.scim_http('GET', '/Schemas/urn:nope');

-- Authentication: none, malformed, wrong, revoked → 401 with WWW-Authenticate.
SELECT status, headers->>'WWW-Authenticate' AS challenge, body->>'detail' AS detail FROM scim.scim_http('GET', '/Users');
SELECT status, body->>'detail' AS detail FROM scim.scim_http('GET', '/Users', '', '{"authorization": "Basic dXNlcjpwYXNz"}');
SELECT status FROM scim.scim_http('GET', '/Users', '', jsonb_build_object('authorization', 'Bearer ' || :'token' || 'x'));
SELECT status FROM scim.scim_http('GET', '/Users', '', '{"authorization": "Bearer scim_00000000000000000000000000000000_abc"}');
SELECT scim.scim_token_issue('to-revoke') AS doomed \gset
SELECT status FROM scim.scim_http('GET', '/Users', 'count=0', jsonb_build_object('authorization', 'Bearer ' || :'doomed'));
SELECT scim.scim_token_revoke(id) FROM scim.scim_tokens() WHERE label = 'to-revoke';
SELECT status FROM scim.scim_http('GET', '/Users', 'count=0', jsonb_build_object('authorization', 'Bearer ' || :'doomed'));
SELECT label, revoked IS NOT NULL AS revoked FROM scim.scim_tokens() ORDER BY label;
-- Tokens are stored as SHA-256 hashes only.
SELECT bool_and(length(secret_hash) = 32) AS hashed FROM scim.tokens;

-- Create: 201 + Location + ETag.
SELECT status, headers->>'Location' = body->'meta'->>'location' AS location_ok,
       headers->>'ETag' AS etag, body->>'userName' AS user_name
  FROM scim.scim_http('POST', '/Users', '', :'auth', '{"userName": "http-user", "emails": [{"value": "h@x.com", "type": "work"}]}');
SELECT uid('http-user') AS hid \gset
-- Errors as SCIM bodies, and nothing written.
SELECT status, body->>'scimType' AS scim_type, body->>'detail' AS detail
  FROM scim.scim_http('POST', '/Users', '', :'auth', '{"userName": "HTTP-USER"}');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Users', '', :'auth', '{"userName": ');
SELECT status, body->>'scimType' AS scim_type FROM scim.scim_http('POST', '/Users', '', :'auth', NULL);
SELECT status, body->>'detail' AS detail FROM scim.scim_http('POST', '/Users', '', :'auth', repeat('x', 1048577));
SELECT status FROM scim.scim_http('DELETE', '/Users', '', :'auth');
SELECT status FROM scim.scim_http('GET', '/Nope', '', :'auth');
SELECT status FROM scim.scim_http('GET', '/Me', '', :'auth');
SELECT count(*) FROM scim.users WHERE lower(user_name) = 'http-user';

-- Get with If-None-Match → 304; projection through query parameters.
SELECT status, body IS NULL AS no_body, headers->>'ETag' AS etag
  FROM scim.scim_http('GET', '/Users/' || :'hid', '', (:'auth')::jsonb || '{"if-none-match": "W/\"1\""}');
SELECT status, body - 'id' AS body
  FROM scim.scim_http('GET', '/Users/' || :'hid', 'attributes=userName', :'auth');

-- List with filter (case-insensitive userName), Entra's test-connection query.
SELECT status, body->'totalResults' AS total, body->'Resources'->0->>'userName' AS first
  FROM scim.scim_http('GET', '/Users', 'filter=userName+eq+%22HTTP-User%22', :'auth');
SELECT status, body - 'Resources' AS empty_list
  FROM scim.scim_http('GET', '/Users', 'filter=userName%20eq%20%22f7c2b1d0-nobody%22', :'auth');
SELECT status, body->>'scimType' AS scim_type, body->>'detail' AS detail
  FROM scim.scim_http('GET', '/Users', 'filter=userName%20eq', :'auth');
SELECT status, body->'totalResults' AS total
  FROM scim.scim_http('POST', '/Users/.search', '', :'auth',
       '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "emails[type eq \"work\"].value eq \"H@X.COM\"", "count": 5}');

-- PATCH (Entra shapes) and PUT with If-Match.
SELECT status, body->'active' AS active, body->'meta'->>'version' AS version
  FROM scim.scim_http('PATCH', '/Users/' || :'hid', '', :'auth',
       '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}');
SELECT status, body->>'scimType' AS scim_type
  FROM scim.scim_http('PUT', '/Users/' || :'hid', '', (:'auth')::jsonb || '{"if-match": "W/\"1\""}', '{"userName": "http-user"}');
SELECT status FROM scim.scim_http('PUT', '/Users/' || :'hid', '', (:'auth')::jsonb || '{"if-match": "W/\"2\""}', '{"userName": "http-user"}');

-- Groups: create with a member, PATCH membership (204 + ETag), members read back.
SELECT status, body->'members'->0->>'value' = :'hid' AS has_member
  FROM scim.scim_http('POST', '/Groups', '', :'auth', jsonb_build_object('displayName', 'http-group', 'members', jsonb_build_array(jsonb_build_object('value', :'hid')))::text);
SELECT gid('http-group') AS hg \gset
SELECT status, body IS NULL AS no_body, headers->>'ETag' AS etag
  FROM scim.scim_http('PATCH', '/Groups/' || :'hg', '', :'auth', format(
       '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members[value eq \"%s\"]"}]}', :'hid'));
SELECT status, body ? 'members' AS has_members FROM scim.scim_http('GET', '/Groups/' || :'hg', '', :'auth');
SELECT status, body->'totalResults' AS total
  FROM scim.scim_http('GET', '/Groups', 'excludedAttributes=members&filter=displayName%20eq%20%22HTTP-GROUP%22', :'auth');

-- Bulk: forward bulkId references, per-operation status, failures isolated.
SELECT op->>'method' AS method, op->>'bulkId' AS bulk_id, op->>'status' AS status,
       op->'response'->>'scimType' AS scim_type
  FROM scim.scim_http('POST', '/Bulk', '', :'auth', '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
       {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "bulk-group", "members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}]}},
       {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk-a"}},
       {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bulk-b"}},
       {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "BULK-A"}},
       {"method": "DELETE", "path": "/Users/bulkId:missing"}]}') r,
       jsonb_array_elements(r.body->'Operations') op;
SELECT count(*) AS bulk_members FROM scim.members WHERE group_id = gid('bulk-group')::uuid;
SELECT status FROM scim.scim_http('POST', '/Bulk', '', :'auth', '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ' ||
       (SELECT jsonb_agg(jsonb_build_object('method', 'DELETE', 'path', '/Users/x' || i)) FROM generate_series(1, 1001) i)::text || '}');

-- DELETE → 204, then 404.
SELECT status, body IS NULL AS no_body FROM scim.scim_http('DELETE', '/Users/' || :'hid', '', :'auth');
SELECT status FROM scim.scim_http('DELETE', '/Users/' || :'hid', '', :'auth');

-- Another tenant's token sees none of this tenant's resources.
SELECT scim.scim_tenant_create('http-other') IS NOT NULL AS created;
SET scim.tenant = 'http-other';
SELECT scim.scim_token_issue('other') AS other_token \gset
RESET scim.tenant;
SELECT status, body->'totalResults' AS total
  FROM scim.scim_http('GET', '/Users', 'filter=userName%20sw%20%22bulk%22', jsonb_build_object('authorization', 'Bearer ' || :'other_token'));
SELECT status FROM scim.scim_http('GET', '/Users/' || uid('bulk-a'), '', jsonb_build_object('authorization', 'Bearer ' || :'other_token'));
-- The caller's tenant setting is restored after an HTTP request.
SELECT current_setting('scim.tenant', true) AS tenant_after;

-- The PostgREST wrapper: same logic, driven by the GUCs PostgREST sets
-- (transaction-local, as PostgREST sets them).
BEGIN;
SELECT set_config('request.headers', jsonb_build_object(
         'x-scim-method', 'GET', 'x-scim-path', '/Users', 'x-scim-query', 'filter=userName%20eq%20%22bulk-b%22',
         'x-scim-authorization', 'Bearer ' || :'token', 'authorization', 'Bearer a.jwt.here')::text, true) IS NOT NULL AS set;
SELECT scim.scim_postgrest('{}')->'totalResults' AS total,
       current_setting('response.status') AS status,
       current_setting('response.headers')::jsonb AS headers;
SELECT set_config('request.headers', jsonb_build_object(
         'x-scim-method', 'POST', 'x-scim-path', '/Users', 'x-scim-authorization', 'Bearer ' || :'token')::text, true) IS NOT NULL AS set;
SELECT scim.scim_postgrest('{"userName": "bulk-b"}')->>'scimType' AS scim_type,
       current_setting('response.status') AS status;
SELECT set_config('request.headers', '{"x-scim-method": "GET", "x-scim-path": "/Users"}', true) IS NOT NULL AS set;
SELECT scim.scim_postgrest('{}')->>'status' AS body_status, current_setting('response.status') AS status;
COMMIT;

-- Absolute URLs when the operator configured the public base URL (GUC
-- scim.public_url, the gateway's --public-url); request headers never set it.
SELECT headers->>'Location' LIKE '/Users/%' AS relative_location,
       body->'meta'->>'location' = headers->>'Location' AS meta_matches
  FROM scim.scim_http('POST', '/Users', '', (:'auth')::jsonb ||
       '{"host": "scim.example.com", "x-forwarded-proto": "https", "x-scim-base-path": "/scim/v2"}', '{"userName": "absolute"}');
SET scim.public_url = 'http://proxy.example/scim/v2/';
SELECT body->'Resources'->0->'meta'->>'location' LIKE 'http://proxy.example/scim/v2/Users/%' AS list_locations
  FROM scim.scim_http('GET', '/Users', 'filter=userName%20eq%20%22absolute%22', (:'auth')::jsonb ||
       '{"x-scim-base-url": "https://evil.example/"}');
RESET scim.public_url;

-- Readable 405; cursorTimeout is not advertised (no expiry).
SELECT status, body->>'detail' AS detail FROM scim.scim_http('PUT', '/Users', '', :'auth', '{}');
SELECT body->'pagination' ? 'cursorTimeout' AS has_cursor_timeout FROM scim.scim_http('GET', '/ServiceProviderConfig');

-- Root /.search with attributes of only one type.
SELECT status, (SELECT bool_and(NOT r ? 'members') FROM jsonb_array_elements(body->'Resources') r) AS no_members
  FROM scim.scim_http('POST', '/.search', '', :'auth',
       '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "excludedAttributes": ["members"], "count": 5}');

-- Over-long indexed values are a clean 400, not an index error.
SELECT status, body->>'detail' AS detail
  FROM scim.scim_http('POST', '/Users', '', :'auth', jsonb_build_object('userName', repeat('u', 3000))::text);

-- A membership change gives the member a new ETag (its `groups` changed).
SELECT headers->>'ETag' AS before FROM scim.scim_http('GET', '/Users/' || uid('absolute'), '', :'auth');
SELECT status FROM scim.scim_http('PATCH', '/Groups/' || gid('http-group'), '', :'auth', format(
       '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "%s"}]}]}', uid('absolute')));
SELECT headers->>'ETag' AS after, body->'groups'->0->>'display' AS grp FROM scim.scim_http('GET', '/Users/' || uid('absolute'), '', :'auth');

-- Privileges: only the token-authenticated entry points are meant for web
-- roles; nothing is executable by PUBLIC.
CREATE ROLE scim_web_test NOLOGIN;
GRANT USAGE ON SCHEMA scim TO scim_web_test;
GRANT EXECUTE ON FUNCTION scim.scim_http(text, text, text, jsonb, text) TO scim_web_test;
SET ROLE scim_web_test;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "sneaky"}') $$) LIKE '42501%' AS sql_api_denied;
SELECT try($$ SELECT scim._http('00000000-0000-0000-0000-000000000000', 'GET', '/Users', '', '{}', NULL) $$) LIKE '42501%' AS internal_denied;
SELECT status, body->'totalResults' IS NOT NULL AS listed
  FROM scim.scim_http('GET', '/Users', 'count=0', :'auth');
RESET ROLE;
REVOKE ALL ON FUNCTION scim.scim_http(text, text, text, jsonb, text) FROM scim_web_test;
REVOKE ALL ON SCHEMA scim FROM scim_web_test;
DROP ROLE scim_web_test;
SELECT count(*) AS public_functions FROM pg_proc p
 WHERE p.pronamespace = 'scim'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
