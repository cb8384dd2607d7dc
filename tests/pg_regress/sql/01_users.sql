-- User create / get / replace / delete and every validation rule.

-- Create: server-assigned id and meta, canonical attribute names, Entra's
-- string booleans, readOnly input ignored, password never returned.
SELECT r->>'userName' AS user_name,
       r->'name' AS name,
       r->'active' AS active,
       r->'emails' AS emails,
       r->'schemas' AS schemas,
       r->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' AS enterprise,
       r->'meta'->>'resourceType' AS rtype,
       r->'meta'->>'version' AS version,
       r->'meta'->>'location' = '/Users/' || (r->>'id') AS location_ok,
       r->'meta'->>'created' = r->'meta'->>'lastModified' AS fresh,
       r->>'id' <> 'client-id' AS server_id,
       r ? 'password' AS has_password,
       r->'roles' AS roles
  FROM scim.scim_create_user('{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "id": "client-id",
    "UserName": "Alice@Example.com",
    "externalId": "ext-alice",
    "name": {"GivenName": "Alice", "familyName": "Liddell"},
    "active": "True",
    "roles": [],
    "password": "correct horse",
    "meta": {"resourceType": "User"},
    "emails": [{"value": "Alice@Example.com", "type": "work", "primary": true}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701", "department": "R&D"}
  }') AS r;

-- What a create returns is what a read of the user returns, byte for byte
-- (the create's answer is built in Rust, a read's by SQL), for users of
-- every shape: nested, unicode, numbers, empty arrays, an extension
-- (rolled back: the users below are counted).
BEGIN;
SELECT count(*) AS created, count(*) FILTER (WHERE c = scim.scim_get('User', c->>'id')) AS same_as_read,
       count(*) FILTER (WHERE c::text = scim.scim_get('User', c->>'id')::text) AS same_text
  FROM (SELECT scim.scim_create_user(b) AS c FROM (VALUES
    ('{"userName": "same-1"}'::jsonb),
    ('{"userName": "same-2 ü€", "displayName": "Zoë \"Q\"", "active": false, "title": "x"}'),
    ('{"userName": "same-3", "name": {"givenName": "A", "familyName": "B"}, "emails": [],
       "phoneNumbers": [{"value": "+1 555", "type": "work"}], "x509Certificates": []}'),
    ('{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
       "userName": "same-4", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
       {"employeeNumber": "7", "manager": {"value": "m-1"}}}')) v(b)) s;
ROLLBACK;

-- The password is stored only as a salted argon2 hash.
SELECT password_hash LIKE '$argon2id$%' AS hashed, password_hash NOT LIKE '%correct horse%' AS not_clear
  FROM scim.users WHERE user_name = 'Alice@Example.com';

-- Promoted columns follow the resource.
SELECT user_name, external_id, active, email_values FROM scim.users;

-- userName is unique case-insensitively: 409 uniqueness, and no second row.
SELECT try($$ SELECT scim.scim_create_user('{"userName": "ALICE@example.COM"}') $$);
SELECT count(*) FROM scim.users;

-- Bad input: each gives a SCIM 400 with a precise detail and writes nothing.
SELECT try($$ SELECT scim.scim_create_user('[]') $$);
SELECT try($$ SELECT scim.scim_create_user('"x"') $$);
SELECT try($$ SELECT scim.scim_create_user('{}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": null}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": 42}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "nickname": ["x"]}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "favouriteColour": "red"}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "active": "maybe"}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "emails": {"value": "b@x"}}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "emails": [{"value": "b@x", "primary": true}, {"value": "c@x", "primary": true}]}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "schemas": ["urn:example:nope"], "urn:example:nope": {"a": 1}}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "b", "name": {"givenName": 7}}') $$);
-- Malformed JSON never reaches us: the jsonb input function rejects it.
SELECT try($$ SELECT scim.scim_create_user('{"userName": ') $$);
SELECT count(*) FROM scim.users;

-- Get, with attributes / excludedAttributes projection.
SELECT scim.scim_get('User', uid('alice@example.com'), 'userName,name.familyName') - 'id' AS projected;
SELECT jsonb_object_keys(scim.scim_get('Users', uid('alice@example.com'), NULL, 'emails,meta,name')) AS key ORDER BY 1;
SELECT scim.scim_get('User', uid('alice@example.com'),
       'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department') - 'id' AS ext_projection;
SELECT try($$ SELECT scim.scim_get('User', uid('alice@example.com'), 'bogus') $$);
SELECT try($$ SELECT scim.scim_get('User', '00000000-0000-0000-0000-000000000001') $$);
SELECT try($$ SELECT scim.scim_get('User', 'not-a-uuid') $$);
SELECT try($$ SELECT scim.scim_get('Widgets', 'x') $$);

-- Replace (PUT, as Okta sends it: with id, meta and groups, all ignored).
SELECT r->>'userName' AS user_name, r->'active' AS active, r->'name' AS name,
       r->'meta'->>'version' AS version, r ? 'emails' AS kept_emails
  FROM scim.scim_replace('User', uid('alice@example.com'), jsonb_build_object(
        'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
        'id', uid('alice@example.com'),
        'userName', 'alice@example.com',
        'active', false,
        'groups', '[]'::jsonb,
        'meta', jsonb_build_object('resourceType', 'User', 'version', 'W/"1"'),
        'name', jsonb_build_object('givenName', 'Alice')), 'W/"1"') AS r;
-- Deactivated users stay readable.
SELECT scim.scim_get('User', uid('alice@example.com'))->'active' AS active_after_put;
-- The password hash survives a PUT without password.
SELECT password_hash IS NOT NULL AS hash_kept FROM scim.users WHERE user_name = 'alice@example.com';

-- If-Match: a stale version is 412 and changes nothing; '*' always passes.
SELECT try(format($$ SELECT scim.scim_replace('User', %L, '{"userName": "x"}', 'W/"1"') $$, uid('alice@example.com')));
SELECT user_name, version FROM scim.users;
SELECT scim.scim_replace('User', uid('alice@example.com'), '{"userName": "alice@example.com"}', '*')->'meta'->>'version' AS v3;

-- Renaming onto someone else's userName (any case) is 409, not a raw error.
SELECT scim.scim_create_user('{"userName": "bob"}')->>'userName' AS bob;
SELECT try(format($$ SELECT scim.scim_replace('User', %L, '{"userName": "ALICE@EXAMPLE.COM"}') $$, uid('bob')));
SELECT try(format($$ SELECT scim.scim_replace('User', %L, '{"displayName": "no userName"}') $$, uid('bob')));

-- Delete: If-Match mismatch is 412; then gone (404).
SELECT try(format($$ SELECT scim.scim_delete('User', %L, 'W/"9"') $$, uid('bob')));
SELECT try(format($$ SELECT scim.scim_delete('User', %L, 'W/"1"') $$, uid('bob')));
SELECT count(*) FROM scim.users WHERE user_name = 'bob';
SELECT try($$ SELECT scim.scim_delete('User', '00000000-0000-0000-0000-000000000001') $$);
