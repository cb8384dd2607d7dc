-- A large 0.1.0 directory for timing ALTER EXTENSION scim_pg UPDATE
-- (docs/upgrades.md "Cost"): :users users over three tenants, each with
-- one or two emails (every fifth with an ß), groups of 100 members, a
-- nested group per tenant, policies bound to groups, and tokens. Written
-- straight into 0.1.0's tables (the API would take hours in a debug
-- build); the rows look like what 0.1.0's API stores.
--   psql -v users=100000 -f tests/upgrade/scale-0.1.0.sql
\if :{?users}
\else
\set users 100000
\endif
SELECT scim.scim_tenant_create('second'), scim.scim_tenant_create('third');
INSERT INTO scim.users (tenant_id, user_name, display_name, external_id, active, email_values, resource)
SELECT t.id, format('user-%s', n), format('User %s', n), format('ext-%s', n), n % 7 <> 0,
       ARRAY[lower(format('user.%s@example.com', n))] || CASE WHEN n % 5 = 0 THEN ARRAY[format('straße.%s@example.com', n)] ELSE '{}' END,
       jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                          'userName', format('user-%s', n), 'displayName', format('User %s', n),
                          'externalId', format('ext-%s', n), 'active', n % 7 <> 0,
                          'name', jsonb_build_object('givenName', 'Given' || n, 'familyName', 'Family'),
                          'emails', jsonb_build_array(jsonb_build_object('value', format('User.%s@Example.com', n), 'primary', true))
                                    || CASE WHEN n % 5 = 0 THEN jsonb_build_array(jsonb_build_object('value', format('straße.%s@example.com', n)))
                                            ELSE '[]'::jsonb END)
  FROM generate_series(1, :users) n
  JOIN scim.tenants t ON t.name = (ARRAY['default', 'second', 'third'])[n % 3 + 1];
INSERT INTO scim.groups (tenant_id, display_name, resource)
SELECT t.id, format('group-%s', g), jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'),
                                                        'displayName', format('group-%s', g))
  FROM scim.tenants t, generate_series(1, (:users / 300)::int) g;
-- every user in the group of its number / 100
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT u.tenant_id, g.id, u.id, 'User'
  FROM scim.users u
  JOIN scim.groups g ON g.tenant_id = u.tenant_id
                    AND g.display_name = format('group-%s', (substr(u.user_name, 6)::int / 300) + 1);
INSERT INTO scim.groups (tenant_id, display_name, resource)
SELECT t.id, 'everyone', '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "everyone"}' FROM scim.tenants t;
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT g.tenant_id, e.id, g.id, 'Group'
  FROM scim.groups g JOIN scim.groups e ON e.tenant_id = g.tenant_id AND e.display_name = 'everyone'
 WHERE g.display_name <> 'everyone';
INSERT INTO scim.policies (tenant_id, name, document)
SELECT t.id, 'base', '{"allow": {"apps": "*"}}' FROM scim.tenants t;
INSERT INTO scim.policy_bindings (tenant_id, group_id, policy)
SELECT g.tenant_id, g.id, 'base' FROM scim.groups g WHERE g.display_name = 'everyone';
SELECT set_config('scim.tenant', t, false), scim.scim_token_issue('idp') FROM unnest(ARRAY['default', 'second', 'third']) t;
ANALYZE;
SELECT (SELECT count(*) FROM scim.users) AS users, (SELECT count(*) FROM scim.groups) AS groups,
       (SELECT count(*) FROM scim.members) AS memberships;
