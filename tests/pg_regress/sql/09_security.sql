-- Security boundary (issue 12): roles and privileges, tenant-consistent
-- constraints, tenant resolution under rollback / re-create / rename,
-- search_path hijacking, scim_filter_sql under standard_conforming_strings
-- = off, the public base URL. Everything here is prefixed sec_.

-- Privilege matrix, from the catalogs ---------------------------------------
-- Per function: who may execute it (PUBLIC, scim_app, scim_web, scim_admin),
-- whether it runs as the owner, and how its search_path is fixed.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       has_function_privilege('scim_app', p.oid, 'EXECUTE') AS app,
       has_function_privilege('scim_tenant_app', p.oid, 'EXECUTE') AS tenant_app,
       has_function_privilege('scim_web', p.oid, 'EXECUTE') AS web,
       has_function_privilege('scim_admin', p.oid, 'EXECUTE') AS admin,
       p.prosecdef AS definer,
       coalesce(array_to_string(p.proconfig, ','), 'schema-qualified') AS config
  FROM pg_proc p
 WHERE p.pronamespace = 'scim'::regnamespace
 ORDER BY p.proname, p.oid::regprocedure::text;
-- Per table and sequence: what each role may do directly (nothing: writes
-- and reads go through the functions above).
CREATE FUNCTION sec_privileges(role text, rel oid) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(priv, ',' ORDER BY priv), '-')
      FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'USAGE']) priv
     WHERE CASE WHEN (SELECT relkind FROM pg_class WHERE oid = rel) = 'S'
                THEN priv IN ('SELECT', 'UPDATE', 'USAGE') AND has_sequence_privilege(role, rel, priv)
                ELSE priv <> 'USAGE' AND has_table_privilege(role, rel, priv) END
$$;
SELECT c.relname, c.relkind, sec_privileges('public', c.oid) AS public, sec_privileges('scim_app', c.oid) AS app,
       sec_privileges('scim_tenant_app', c.oid) AS tenant_app, sec_privileges('scim_web', c.oid) AS web, sec_privileges('scim_admin', c.oid) AS admin,
       c.relrowsecurity AS rls
  FROM pg_class c
 WHERE c.relnamespace = 'scim'::regnamespace AND c.relkind IN ('r', 'S', 'v', 'm', 'p', 'f')
 ORDER BY c.relname;
SELECT r AS role, has_schema_privilege(r, 'scim', 'USAGE') AS usage, has_schema_privilege(r, 'scim', 'CREATE') AS "create"
  FROM unnest(ARRAY['public', 'scim_app', 'scim_tenant_app', 'scim_web', 'scim_admin']) r;
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolbypassrls FROM pg_roles
 WHERE rolname IN ('scim_admin', 'scim_app', 'scim_tenant_app', 'scim_web') ORDER BY 1;

-- try() with the uuids in DETAIL masked too (foreign key errors name keys).
CREATE FUNCTION sec_try(q text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(try(q), '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
$$;

-- Two tenants, as the superuser ------------------------------------------------
SELECT scim.scim_tenant_create('sec_a') IS NOT NULL AS a, scim.scim_tenant_create('sec_b') IS NOT NULL AS b;
SET scim.tenant = 'sec_b';
SELECT scim.scim_create_user('{"userName": "sec_bob"}') IS NOT NULL AS created;
SELECT scim.scim_create_group('{"displayName": "sec_bgroup"}') IS NOT NULL AS created;
SELECT uid('sec_bob') AS b_user, gid('sec_bgroup') AS b_group \gset
SET scim.tenant = 'sec_a';
SELECT scim.scim_create_user('{"userName": "sec_alice"}') IS NOT NULL AS created;
SELECT scim.scim_create_group('{"displayName": "sec_agroup"}') IS NOT NULL AS created;
SELECT uid('sec_alice') AS a_user, gid('sec_agroup') AS a_group \gset
RESET scim.tenant;

-- The application role: the SQL API only, no table access ---------------------
CREATE ROLE sec_app NOLOGIN IN ROLE scim_app;
SET ROLE sec_app;
SET scim.tenant = 'sec_a';
SELECT try($$ DELETE FROM scim.tenants WHERE name = 'sec_b' $$);
SELECT try($$ UPDATE scim.tenants SET name = 'sec_x' WHERE name = 'sec_b' $$);
SELECT try($$ SELECT count(*) FROM scim.tokens $$);
SELECT try($$ SELECT count(*) FROM scim.users $$);
SELECT try(format($$ INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                     SELECT id, %L, %L, 'User' FROM scim.tenants WHERE name = 'sec_a' $$, :'a_group', :'b_user'));
SELECT try($$ SELECT scim.scim_tenant_create('sec_mine') $$);
SELECT try($$ SELECT scim.scim_token_issue('sec_stolen') $$);
SELECT try($$ SELECT scim.scim_policy_put('sec_p', '{}') $$);
SELECT try($$ SELECT scim.scim_http('GET', '/Users') $$);
-- ... and through the API, another tenant's user cannot join this tenant's group.
SELECT try(format($$ SELECT scim.scim_patch('Group', %L, '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations": [{"op": "add", "path": "members", "value": [{"value": "%s"}]}]}') $$, :'a_group', :'b_user'));
SELECT try(format($$ SELECT scim.scim_delete('User', %L) $$, :'b_user'));
-- What it may do: its tenant's resources.
SELECT scim.scim_create_user('{"userName": "sec_app_made"}')->>'userName' AS created;
SELECT (scim.scim_list('User', 'userName sw "sec_"'))->'totalResults' AS visible_in_a;
SELECT scim.policy_allows('sec_alice', 'skills', 'git') AS allowed;
RESET scim.tenant;
RESET ROLE;
-- The admin role: tenants and tokens, still no table access.
CREATE ROLE sec_admin NOLOGIN IN ROLE scim_admin;
SET ROLE sec_admin;
SELECT scim.scim_tenant_create('sec_c') IS NOT NULL AS created;
SET scim.tenant = 'sec_c';
SELECT scim.scim_token_issue('sec_t') LIKE 'scim\_%' AS issued;
SELECT count(*) AS tokens FROM scim.scim_tokens();
SELECT try($$ DELETE FROM scim.tenants WHERE name = 'sec_b' $$);
RESET scim.tenant;
RESET ROLE;
-- A token-bound application role: the GUC alone is refused; scim_session(token)
-- fixes the token's tenant for the transaction.
SET scim.tenant = 'sec_b';
SELECT scim.scim_token_issue('sec_bound') AS b_token \gset
RESET scim.tenant;
CREATE ROLE sec_tenant_app NOLOGIN IN ROLE scim_tenant_app;
SET ROLE sec_tenant_app;
SET scim.tenant = 'sec_a';
SELECT try($$ SELECT scim.scim_list('User') $$);
SELECT try($$ SELECT count(*) FROM scim.scim_changes() $$);
SELECT try($$ SELECT count(*) FROM scim.scim_policy_changes() $$);
SELECT try($$ SELECT scim.scim_session('scim_00000000000000000000000000000000_nope') $$);
BEGIN;
SELECT scim.scim_session(:'b_token') IS NOT NULL AS bound;
SELECT (scim.scim_list('User', 'userName sw "sec_"'))->'Resources'->0->>'userName' AS sees_b;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "sec_bound_user"}')->>'userName' $$);
SELECT set_config('scim.tenant', 'sec_a', true) IS NOT NULL AS switched;
SELECT try($$ SELECT scim.scim_list('User') $$);
SELECT try($$ SELECT count(*) FROM scim.scim_policy_changes() $$);
COMMIT;
SELECT try($$ SELECT scim.scim_list('User') $$);
SELECT try($$ DELETE FROM scim.users $$);
RESET scim.tenant;
RESET ROLE;

-- The web role: only the two HTTP entry points.
CREATE ROLE sec_web NOLOGIN IN ROLE scim_web;
SET ROLE sec_web;
SELECT (scim.scim_http('GET', '/Users', NULL, '{}', NULL)).status AS unauthenticated;
SELECT try($$ SELECT scim.scim_get('User', '00000000-0000-0000-0000-000000000001') $$);
RESET ROLE;

-- Membership is tenant-consistent by constraint, whoever writes it ------------
-- (the member keys are checked at commit; IMMEDIATE shows the error here).
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT sec_try(format($$ INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                     SELECT id, %L, %L, 'User' FROM scim.tenants WHERE name = 'sec_a' $$, :'a_group', :'b_user'));
SELECT sec_try(format($$ INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                     SELECT id, %L, %L, 'Group' FROM scim.tenants WHERE name = 'sec_a' $$, :'a_group', :'b_group'));
-- A user id declared as a group (or the reverse) does not pass either.
SELECT sec_try(format($$ INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                     SELECT id, %L, %L, 'Group' FROM scim.tenants WHERE name = 'sec_a' $$, :'a_group', :'a_user'));
SELECT sec_try(format($$ INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                     SELECT id, %L, %L, 'User' FROM scim.tenants WHERE name = 'sec_a' $$, :'a_group', :'a_user'));
SELECT sec_try(format($$ UPDATE scim.members SET member_id = %L WHERE group_id = %L $$, :'b_user', :'a_group'));
ROLLBACK;
-- Without IMMEDIATE the same insert fails at commit.
\set VERBOSITY terse
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT id, :'a_group', :'b_user', 'User' FROM scim.tenants WHERE name = 'sec_a';
\set VERBOSITY default
SELECT count(*) AS cross_tenant_members FROM scim.members m
 WHERE NOT EXISTS (SELECT 1 FROM scim.users u WHERE u.tenant_id = m.tenant_id AND u.id = m.member_id)
   AND NOT EXISTS (SELECT 1 FROM scim.groups g WHERE g.tenant_id = m.tenant_id AND g.id = m.member_id);
-- Policy bindings: a group and a policy of the same tenant.
SET scim.tenant = 'sec_b';
SELECT scim.scim_policy_put('sec_bpolicy', '{"allow": {"skills": "*"}}') IS NOT NULL AS put;
RESET scim.tenant;
SELECT sec_try(format($$ INSERT INTO scim.policy_bindings (tenant_id, group_id, policy)
                     SELECT id, %L, 'sec_bpolicy' FROM scim.tenants WHERE name = 'sec_a' $$, :'a_group'));
SELECT sec_try(format($$ INSERT INTO scim.policy_bindings (tenant_id, group_id, policy)
                     SELECT id, %L, 'sec_bpolicy' FROM scim.tenants WHERE name = 'sec_b' $$, :'a_group'));

-- Tenant resolution never uses a dead tenant -------------------------------------
-- A created tenant rolled back: the name is unknown again (a clean 400, not a
-- foreign key error from a remembered uuid).
BEGIN;
SELECT scim.scim_tenant_create('sec_t1') IS NOT NULL AS created;
SET LOCAL scim.tenant = 'sec_t1';
SELECT scim.scim_create_user('{"userName": "sec_u1"}')->>'userName' AS in_txn;
ROLLBACK;
SET scim.tenant = 'sec_t1';
SELECT try($$ SELECT scim.scim_create_user('{"userName": "sec_u1"}') $$);
SELECT try($$ SELECT scim.scim_list('User') $$);
-- ... the same within a savepoint.
BEGIN;
SAVEPOINT s;
SELECT scim.scim_tenant_create('sec_t1') IS NOT NULL AS created;
SELECT scim.scim_create_user('{"userName": "sec_u1"}')->>'userName' AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "sec_u1"}') $$);
COMMIT;
-- Deleted and created again under the same name: the new tenant.
SELECT scim.scim_tenant_create('sec_t1') IS NOT NULL AS created;
SELECT scim.scim_create_user('{"userName": "sec_u1"}')->>'userName' AS first;
DELETE FROM scim.tenants WHERE name = 'sec_t1';
SELECT try($$ SELECT scim.scim_create_user('{"userName": "sec_u2"}') $$);
SELECT scim.scim_tenant_create('sec_t1') IS NOT NULL AS created;
SELECT scim.scim_create_user('{"userName": "sec_u2"}')->>'userName' AS second;
SELECT t.name, count(u.id) AS users FROM scim.tenants t LEFT JOIN scim.users u ON u.tenant_id = t.id
 WHERE t.name = 'sec_t1' GROUP BY t.name;
-- Renamed: the old name is unknown, the new one works.
UPDATE scim.tenants SET name = 'sec_t1_renamed' WHERE name = 'sec_t1';
SELECT try($$ SELECT scim.scim_create_user('{"userName": "sec_u3"}') $$);
SET scim.tenant = 'sec_t1_renamed';
SELECT (scim.scim_list('User'))->'totalResults' AS renamed_users;
-- ... and in one REPEATABLE READ transaction (one snapshot throughout), a
-- rename by the transaction itself is seen at once: the old name is
-- unknown (the resolution kept is dropped when scim.tenants is written).
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT (scim.scim_list('User'))->'totalResults' AS before_rename;
UPDATE scim.tenants SET name = 'sec_t1_again' WHERE name = 'sec_t1_renamed';
SELECT (scim.scim_list('User'))->'totalResults' AS old_name;
ROLLBACK;
RESET scim.tenant;

-- scim_filter_sql is safe to run under standard_conforming_strings = off ------
SET scim.tenant = 'sec_a';
SELECT scim.scim_create_user($j${"userName": "sec_q\\' or true --"}$j$)->>'userName' AS tricky;
CREATE FUNCTION sec_run_filter_sql(f text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE sql text := scim.scim_filter_sql(f); n int;
BEGIN
    EXECUTE 'SELECT count(*) FROM (' || sql || ') q' INTO n;
    RETURN n::text;
EXCEPTION WHEN OTHERS THEN
    RETURN 'error: ' || SQLERRM;
END
$$;
SET standard_conforming_strings = off;
SELECT sec_run_filter_sql($f$userName eq "sec_q\\' or true --"$f$) AS scs_off_exact,
       sec_run_filter_sql($f$userName eq "sec_nobody\\' or true --"$f$) AS scs_off_nobody,
       sec_run_filter_sql($f$userName eq "x\\'); CREATE TABLE public.sec_pwned(); --"$f$) AS scs_off_statement;
RESET standard_conforming_strings;
SELECT sec_run_filter_sql($f$userName eq "sec_q\\' or true --"$f$) AS scs_on_exact,
       sec_run_filter_sql($f$userName eq "sec_nobody\\' or true --"$f$) AS scs_on_nobody;
SELECT to_regclass('public.sec_pwned') AS pwned;
SELECT scim.scim_filter_sql($f$userName eq "a\\'b"$f$) ~ $r$E'a\\\\''b'$r$ AS escape_string_literal;
RESET scim.tenant;

-- The public base URL is configuration, never a request header --------------
SET scim.tenant = 'sec_a';
SELECT scim.scim_token_issue('sec_url') AS url_token \gset
RESET scim.tenant;
SELECT h.status, h.headers->>'Location' ~ '^/Users/[0-9a-f-]{36}$' AS relative,
       h.body->'meta'->>'location' = h.headers->>'Location' AS meta_same
  FROM scim.scim_http('POST', '/Users', NULL,
         jsonb_build_object('authorization', 'Bearer ' || :'url_token', 'host', 'evil.example',
                            'x-forwarded-proto', 'https', 'x-scim-base-url', 'https://evil.example/x',
                            'x-scim-base-path', '/evil'),
         '{"userName": "sec_url1"}') h;
SET scim.public_url = 'https://scim.example.test/scim/v2/';
SELECT h.status, h.headers->>'Location' ~ '^https://scim\.example\.test/scim/v2/Users/[0-9a-f-]{36}$' AS configured,
       h.body->'meta'->>'location' = h.headers->>'Location' AS meta_same
  FROM scim.scim_http('POST', '/Users', NULL,
         jsonb_build_object('authorization', 'Bearer ' || :'url_token', 'host', 'evil.example',
                            'x-scim-base-url', 'https://evil.example/x'),
         '{"userName": "sec_url2"}') h;
RESET scim.public_url;

-- search_path hijacking ----------------------------------------------------------
-- A low-privilege role with CREATE on public plants look-alikes of the
-- builtins the extension calls; every one logs that it ran. Then a superuser
-- calls every function of the SQL API with public searched FIRST.
CREATE ROLE sec_attacker NOLOGIN;
GRANT CREATE ON SCHEMA public TO sec_attacker;
SET ROLE sec_attacker;
CREATE TABLE public.sec_hijack_log (what text);
GRANT INSERT ON public.sec_hijack_log TO PUBLIC;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('lower'); SELECT pg_catalog.lower($1) $$;
CREATE FUNCTION public.upper(text) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('upper'); SELECT pg_catalog.upper($1) $$;
CREATE FUNCTION public.to_char(timestamp, text) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('to_char'); SELECT pg_catalog.to_char($1, $2) $$;
CREATE FUNCTION public.timezone(text, timestamptz) RETURNS timestamp LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('timezone'); SELECT pg_catalog.timezone($1, $2) $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('now'); SELECT pg_catalog.now() $$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('clock_timestamp'); SELECT pg_catalog.clock_timestamp() $$;
CREATE FUNCTION public.current_setting(text, boolean) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('current_setting'); SELECT pg_catalog.current_setting($1, $2) $$;
CREATE FUNCTION public.set_config(text, text, boolean) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('set_config'); SELECT pg_catalog.set_config($1, $2, $3) $$;
CREATE FUNCTION public.pg_notify(text, text) RETURNS void LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('pg_notify'); SELECT pg_catalog.pg_notify($1, $2) $$;
CREATE FUNCTION public.gen_random_uuid() RETURNS uuid LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('gen_random_uuid'); SELECT pg_catalog.gen_random_uuid() $$;
CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('jsonb_typeof'); SELECT pg_catalog.jsonb_typeof($1) $$;
CREATE FUNCTION public.split_part(text, text, int) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('split_part'); SELECT pg_catalog.split_part($1, $2, $3) $$;
-- jsonb_build_object(text, …): more specific than the builtin's VARIADIC "any".
DO $do$
DECLARE n int;
BEGIN
    FOR n IN 1..6 LOOP
        EXECUTE format($f$CREATE FUNCTION public.jsonb_build_object(%s) RETURNS jsonb LANGUAGE sql AS
            $b$ INSERT INTO public.sec_hijack_log VALUES ('jsonb_build_object'); SELECT '{}'::jsonb $b$ $f$,
            array_to_string(array_fill('text'::text, ARRAY[2 * n]), ', '));
    END LOOP;
END
$do$;
CREATE FUNCTION public.sec_jsonb_acc(jsonb, jsonb) RETURNS jsonb LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('jsonb_agg'); SELECT '[]'::jsonb $$;
CREATE AGGREGATE public.jsonb_agg(jsonb) (sfunc = public.sec_jsonb_acc, stype = jsonb);
-- Operators shadowing the builtin ones (public is searched first below).
CREATE FUNCTION public.sec_texteq(text, text) RETURNS boolean LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('text ='); SELECT pg_catalog.texteq($1, $2) $$;
CREATE OPERATOR public.= (leftarg = text, rightarg = text, function = public.sec_texteq);
CREATE FUNCTION public.sec_textcat(text, text) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('text ||'); SELECT pg_catalog.textcat($1, $2) $$;
CREATE OPERATOR public.|| (leftarg = text, rightarg = text, function = public.sec_textcat);
CREATE FUNCTION public.sec_uuideq(uuid, uuid) RETURNS boolean LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('uuid ='); SELECT pg_catalog.uuid_eq($1, $2) $$;
CREATE OPERATOR public.= (leftarg = uuid, rightarg = uuid, function = public.sec_uuideq);
CREATE FUNCTION public.sec_jsonb_get(jsonb, text) RETURNS jsonb LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('jsonb ->'); SELECT pg_catalog.jsonb_object_field($1, $2) $$;
CREATE OPERATOR public.-> (leftarg = jsonb, rightarg = text, function = public.sec_jsonb_get);
-- Casts between built-in types need ownership of one of them: refused.
CREATE FUNCTION public.sec_to_jsonb(text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
\set VERBOSITY terse
CREATE CAST (text AS jsonb) WITH FUNCTION public.sec_to_jsonb(text);
\set VERBOSITY default
RESET ROLE;

-- The application role plants look-alikes in its own pg_temp, then calls the
-- SECURITY DEFINER API (which runs as the owner) in the same session.
SET ROLE sec_app;
CREATE TEMP TABLE users (tenant_id uuid, id uuid);
CREATE TEMP TABLE tenants (id uuid, name text);
CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('pg_temp.lower'); SELECT pg_catalog.lower($1) $$;
CREATE FUNCTION pg_temp.sec_texteq(text, text) RETURNS boolean LANGUAGE sql AS
$$ INSERT INTO public.sec_hijack_log VALUES ('pg_temp text ='); SELECT pg_catalog.texteq($1, $2) $$;
CREATE OPERATOR pg_temp.= (leftarg = text, rightarg = text, function = pg_temp.sec_texteq);
SET search_path = pg_temp, public, pg_catalog;
SET scim.tenant = 'sec_a';
SELECT scim.scim_create_user('{"userName": "sec_temp_user", "emails": [{"value": "T@X.example"}]}') IS NOT NULL AS created;
SELECT (scim.scim_list('User', 'userName eq "SEC_TEMP_USER" and emails co "x.example"'))->>'totalResults' AS found;
SELECT scim.scim_get('Group', :'a_group') IS NOT NULL AS got;
SELECT scim.policy_allows('sec_temp_user', 'skills', 'git') AS allowed;
RESET scim.tenant;
RESET search_path;
DROP TABLE pg_temp.users, pg_temp.tenants;
DROP OPERATOR pg_temp.= (text, text);
DROP FUNCTION pg_temp.sec_texteq(text, text), pg_temp.lower(text);
RESET ROLE;

-- Ids and arguments for the calls below, made before public is searched
-- first (the look-alikes would catch this script's own expressions).
SET scim.tenant = 'sec_a';
SELECT scim.scim_create_user('{"userName": "sec_h1", "password": "sec-hunter2"}')->>'id' AS h_user \gset
SELECT scim.scim_create_group(format('{"displayName": "sec_hg", "members": [{"value": "%s"}]}', :'h_user')::jsonb)->>'id' AS h_group \gset
SELECT scim.scim_token_issue('sec_h') AS h_token \gset
SELECT id AS h_token_id FROM scim.scim_tokens() ORDER BY created DESC LIMIT 1 \gset
SELECT format('{"authorization": "Bearer %s"}', :'h_token') AS h_auth, format('/Groups/%s', :'h_group') AS h_group_path,
       format('{"x-scim-method": "GET", "x-scim-path": "/Users", "x-scim-query": "filter=userName%%20eq%%20%%22sec_h1%%22",
                "x-scim-authorization": "Bearer %s", "x-scim-base-url": "https://scim.example.test/scim/v2"}', :'h_token') AS h_pgrst \gset
-- Control: the look-alikes are live. With public searched first they
-- replace the builtins, and jsonb_build_object(text, …) wins over the
-- builtin's VARIADIC "any" even with pg_catalog first.
SELECT jsonb_build_object('a', 'b') AS hijacked;
SET search_path = public, pg_catalog;
SELECT lower('X') AS hijacked, 'a' || 'b' AS hijacked;
RESET search_path;
SELECT what, count(*) FROM public.sec_hijack_log GROUP BY what ORDER BY what;
DELETE FROM public.sec_hijack_log;

SET search_path = public, pg_catalog;
SELECT scim.scim_build_info() IS NOT NULL AS build_info;
SELECT scim.scim_create_user('{"userName": "sec_h2", "name": {"givenName": "H"}, "emails": [{"value": "h2@x.example", "primary": true}]}') IS NOT NULL AS create_user;
SELECT scim.scim_create_group('{"displayName": "sec_hg2"}') IS NOT NULL AS create_group;
SELECT scim.scim_get('Group', :'h_group') IS NOT NULL AS get_group;
SELECT scim.scim_get('User', :'h_user', 'userName,groups') IS NOT NULL AS get_user;
SELECT scim.scim_list('User', 'userName sw "sec_h" or emails[value co "x.example"]', 1, 10, 'userName', 'descending') IS NOT NULL AS list;
SELECT scim.scim_list('Group', NULL, 1, 10, NULL, NULL, NULL, NULL, '') IS NOT NULL AS list_cursor;
SELECT count(*) >= 0 AS filter FROM scim.scim_filter('userName ew "h1"');
SELECT scim.scim_filter_sql('displayName co "hg"', 'Group') IS NOT NULL AS filter_sql;
SELECT scim.scim_matches('{"userName": "a"}', 'userName eq "A"') AS matches;
SELECT scim.scim_replace('User', :'h_user', '{"userName": "sec_h1", "active": true}') IS NOT NULL AS replace;
SELECT scim.scim_patch('Group', :'h_group', format('{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
       "Operations": [{"op": "remove", "path": "members[value eq \"%s\"]"}, {"op": "add", "path": "members", "value": [{"value": "%s"}]}]}',
       :'h_user', :'h_user')::jsonb) IS NOT NULL AS patch;
SELECT scim.scim_bulk('{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
       {"method": "POST", "path": "/Users", "bulkId": "b1", "data": {"userName": "sec_h3"}},
       {"method": "POST", "path": "/Groups", "bulkId": "b2", "data": {"displayName": "sec_hg3", "members": [{"value": "bulkId:b1"}]}}]}')
       IS NOT NULL AS bulk;
SELECT scim.scim_policy_put('sec_hp', '{"allow": {"skills": ["git"]}}') IS NOT NULL AS policy_put;
SELECT scim.scim_policy_bind(:'h_group', 'sec_hp') AS policy_bind;
SELECT scim.scim_policy_set_default('sec_hp') IS NOT NULL AS set_default;
SELECT scim.effective_policy('sec_h1') IS NOT NULL AS effective;
SELECT scim.effective_policy_explain('sec_h1') IS NOT NULL AS explain;
SELECT scim.policy_allows('sec_h1', 'skills', 'git') AS allows;
SELECT scim.scim_effective_policy('sec_h1') = scim.effective_policy('sec_h1') AS same_effective;
SELECT scim.scim_effective_policy_explain('sec_h1') = scim.effective_policy_explain('sec_h1') AS same_explain;
SELECT scim.scim_policy_allows('sec_h1', 'skills', 'git') = scim.policy_allows('sec_h1', 'skills', 'git') AS same_allows;
SELECT count(*) > 0 AS policy_changes FROM scim.scim_policy_changes(0);
SELECT scim.scim_policy_unbind(:'h_group', 'sec_hp') AS policy_unbind;
SELECT scim.scim_policy_set_default(NULL) IS NOT NULL AS unset_default;
SELECT scim.scim_policy_delete('sec_hp') IS NOT NULL AS policy_delete;
SELECT (scim.scim_http('GET', :'h_group_path', 'attributes=members', :'h_auth', NULL)).status AS http_get;
SELECT (scim.scim_http('POST', '/Users', NULL, :'h_auth', '{"userName": "sec_h4"}')).status AS http_post;
SELECT (scim.scim_http('GET', '/ServiceProviderConfig')).status AS http_discovery;
SELECT (scim.scim_http('GET', '/Users', NULL, '{"authorization": "Bearer nope"}', NULL)).status AS http_401;
BEGIN;
SELECT pg_catalog.set_config('request.headers', :'h_pgrst', true) IS NOT NULL AS headers;
SELECT scim.scim_postgrest('{}')->>'totalResults' AS postgrest;
COMMIT;
SET client_min_messages = warning;  -- the indexes exist already
SELECT scim.scim_create_trigram_indexes() AS trigram;
RESET client_min_messages;
SELECT scim.scim_tenant_create('sec_h_tenant') IS NOT NULL AS tenant_create;
SELECT count(*) > 0 AS tokens FROM scim.scim_tokens();
SELECT scim.scim_token_rotate(:'h_token_id', interval '1 hour') IS NOT NULL AS token_rotate;
SELECT count(*) >= 0 AS changes FROM scim.scim_changes(0, 100);
SELECT scim.scim_changes_prune() >= 0 AS changes_prune;
SELECT count(*) AS oauth_client FROM scim.scim_oauth_client_create('sec_oc');
SELECT scim.scim_oauth_client_revoke(client_id) IS NOT NULL AS oauth_revoke FROM scim.scim_oauth_clients();
SELECT scim.scim_rate_limit_set(100, 200) IS NOT NULL AS rate_limit;
SELECT scim.scim_provisioning_log_configure(false, false) IS NOT NULL AS log_configure;
SELECT rate_burst AS operations FROM scim.scim_tenant_operations();
SELECT count(*) > 0 AS log FROM scim.scim_provisioning_log();
SELECT count(*) > 0 AS log_export FROM scim.scim_provisioning_log_export();
SELECT scim.scim_retention_set(interval '30 days', interval '7 days') IS NOT NULL AS retention;
SELECT scim.scim_provisioning_log_prune() >= 0 AS log_prune;
BEGIN;
SELECT scim.scim_session(:'h_token') IS NOT NULL AS session;
ROLLBACK;
SELECT scim.scim_token_revoke(:'h_token_id') IS NOT NULL AS token_revoke;
SELECT scim.scim_extension_schema_put('Group', '{"id": "urn:sec:g:1.0", "attributes": [{"name": "tier"}]}') ->> 'id' AS extension_put;
SELECT count(*) AS extension_schemas FROM scim.scim_extension_schemas();
SELECT scim.scim_extension_index('urn:sec:g:1.0', 'tier') IS NOT NULL AS extension_index;
SELECT scim.scim_policy_attribute_map('urn:sec:g:1.0', 'tier', 'allow', 'tiers') ->> 'kind' AS attribute_map;
SELECT count(*) AS attribute_maps FROM scim.scim_policy_attribute_maps();
SELECT scim.scim_policy_attribute_unmap('urn:sec:g:1.0', 'tier') AS attribute_unmap;
SELECT scim.scim_extension_schema_remove('urn:sec:g:1.0') AS extension_remove;
SELECT scim.scim_delete('Group', :'h_group') IS NOT NULL AS delete_group;
SELECT scim.scim_delete('User', :'h_user') IS NOT NULL AS delete_user;
RESET search_path;
RESET scim.tenant;
-- Not one look-alike ran.
SELECT what, count(*) FROM public.sec_hijack_log GROUP BY what ORDER BY what;
-- Every function granted to a role was called above (a new one must be added).
SELECT p.proname AS not_called_above
  FROM pg_proc p
 WHERE p.pronamespace = 'scim'::regnamespace
   AND (has_function_privilege('scim_app', p.oid, 'EXECUTE') OR has_function_privilege('scim_web', p.oid, 'EXECUTE')
        OR has_function_privilege('scim_admin', p.oid, 'EXECUTE'))
   AND p.proname <> ALL (ARRAY['scim_build_info', 'scim_create_user', 'scim_create_group', 'scim_get', 'scim_list',
        'scim_filter', 'scim_filter_sql', 'scim_matches', 'scim_replace', 'scim_patch', 'scim_bulk', 'scim_policy_put',
        'scim_policy_bind', 'scim_policy_set_default', 'effective_policy', 'effective_policy_explain', 'policy_allows',
        'scim_effective_policy', 'scim_effective_policy_explain', 'scim_policy_allows',
        'scim_policy_changes', 'scim_policy_unbind', 'scim_policy_delete', 'scim_http', 'scim_postgrest',
        'scim_create_trigram_indexes', 'scim_tenant_create', 'scim_tokens', 'scim_token_revoke', 'scim_token_issue',
        'scim_delete', 'scim_session', 'scim_token_rotate', 'scim_changes', 'scim_changes_prune',
        'scim_oauth_client_create', 'scim_oauth_clients', 'scim_oauth_client_revoke', 'scim_rate_limit_set',
        'scim_provisioning_log_configure', 'scim_tenant_operations', 'scim_provisioning_log',
        'scim_provisioning_log_export', 'scim_retention_set', 'scim_provisioning_log_prune',
        'scim_extension_schema_put', 'scim_extension_schemas', 'scim_extension_index',
        'scim_extension_schema_remove', 'scim_policy_attribute_map', 'scim_policy_attribute_maps',
        'scim_policy_attribute_unmap']);

-- Cleanup ----------------------------------------------------------------------------
DROP FUNCTION sec_run_filter_sql(text), sec_try(text), sec_privileges(text, oid);
REVOKE CREATE ON SCHEMA public FROM sec_attacker;
DROP OWNED BY sec_attacker, sec_app, sec_tenant_app, sec_admin, sec_web;
DROP ROLE sec_attacker, sec_app, sec_tenant_app, sec_admin, sec_web;
DELETE FROM scim.tenants WHERE name LIKE 'sec\_%';
SELECT count(*) AS sec_users_left FROM scim.users WHERE user_name LIKE 'sec\_%';
