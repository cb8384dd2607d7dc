-- The upgrade test's directory, written through the 0.1.0 SQL API
-- (scripts/test step `upgrade`): three tenants (the default one and two
-- more), 1,000 users (names, emails with case and non-ASCII letters,
-- externalIds, the enterprise extension, inactive ones, a few passwords,
-- some PATCHed so their versions differ), nested groups, policies bound
-- to groups, default policies, and tokens (one revoked). The tokens'
-- secrets are kept in public.fixture_tokens to authenticate with after
-- the upgrade (outside the extension's schema, so the upgrade leaves it).
CREATE TABLE public.fixture_tokens (tenant text, label text, token text);

CREATE FUNCTION pg_temp.fixture(tenant text, users int, with_default boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ids  text[] := '{}';
    body jsonb;
    eng text; backend text; sales text; everyone text;
BEGIN
    PERFORM set_config('scim.tenant', tenant, true);
    FOR n IN 1..users LOOP
        body := jsonb_build_object(
            'userName', format('%s-user-%s', tenant, n),
            'name', jsonb_build_object('givenName', 'Given' || n, 'familyName', CASE WHEN n % 4 = 0 THEN 'Ärger' ELSE 'Family' END),
            'displayName', format('User %s of %s', n, tenant),
            'emails', jsonb_build_array(
                jsonb_build_object('value', format('User.%s@%s.Example.com', n, tenant), 'type', 'work', 'primary', true))
                || CASE WHEN n % 5 = 0 THEN jsonb_build_array(jsonb_build_object('value', format('straße.%s@%s.example.com', n, tenant), 'type', 'home'))
                        ELSE '[]'::jsonb END,
            'active', n % 7 <> 0);
        IF n % 3 = 0 THEN
            body := body || jsonb_build_object('externalId', format('ext-%s-%s', tenant, n));
        END IF;
        IF n % 10 = 0 THEN
            body := body || jsonb_build_object(
                'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User',
                                             'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'),
                'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
                    jsonb_build_object('employeeNumber', n::text, 'department', CASE WHEN n % 20 = 0 THEN 'R&D' ELSE 'Sales' END));
        END IF;
        IF n <= 2 THEN
            body := body || jsonb_build_object('password', format('pw-%s-%s', tenant, n));
        END IF;
        ids := ids || (scim.scim_create_user(body)->>'id');
    END LOOP;
    -- versions above 1: a PATCH of every 9th user
    FOR n IN 9..users BY 9 LOOP
        PERFORM scim.scim_patch('User', ids[n], jsonb_build_object(
            'schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
            'Operations', jsonb_build_array(jsonb_build_object('op', 'replace', 'path', 'title', 'value', 'Patched ' || n))));
    END LOOP;
    eng := scim.scim_create_group(jsonb_build_object('displayName', tenant || ' Engineering', 'externalId', tenant || '-eng',
               'members', (SELECT jsonb_agg(jsonb_build_object('value', ids[i])) FROM generate_series(1, 50) i)))->>'id';
    backend := scim.scim_create_group(jsonb_build_object('displayName', tenant || ' Backend',
               'members', (SELECT jsonb_agg(jsonb_build_object('value', ids[i])) FROM generate_series(40, 60) i)))->>'id';
    sales := scim.scim_create_group(jsonb_build_object('displayName', tenant || ' Sales',
               'members', (SELECT jsonb_agg(jsonb_build_object('value', ids[i])) FROM generate_series(100, 150) i)))->>'id';
    -- nesting: everyone ⊃ {Engineering ⊃ Backend, Sales}
    PERFORM scim.scim_patch('Group', eng, jsonb_build_object(
        'schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:PatchOp'),
        'Operations', jsonb_build_array(jsonb_build_object('op', 'add', 'path', 'members',
                                                           'value', jsonb_build_array(jsonb_build_object('value', backend))))));
    everyone := scim.scim_create_group(jsonb_build_object('displayName', tenant || ' Everyone',
               'members', jsonb_build_array(jsonb_build_object('value', eng), jsonb_build_object('value', sales))))->>'id';
    PERFORM scim.scim_create_group(jsonb_build_object('displayName', tenant || ' Empty'));
    PERFORM scim.scim_policy_put('base', jsonb_build_object('allow', jsonb_build_object('apps', '*'),
                                                            'deny', jsonb_build_object('apps', jsonb_build_array(tenant || '-blocked'))));
    PERFORM scim.scim_policy_put('engineering', '{"allow": {"apps": ["git", "ci"], "envs": "*"}, "deny": {"envs": ["prod"]}}');
    PERFORM scim.scim_policy_put('backend', '{"allow": {"envs": ["prod"], "apps": ["db"]}}');
    PERFORM scim.scim_policy_put('sales', '{"allow": {"apps": ["crm"]}, "deny": {"apps": ["git"]}}');
    PERFORM scim.scim_policy_put('unused', '{"allow": {"apps": ["nothing"]}}');
    PERFORM scim.scim_policy_bind(eng, 'engineering');
    PERFORM scim.scim_policy_bind(backend, 'backend');
    PERFORM scim.scim_policy_bind(sales, 'sales');
    PERFORM scim.scim_policy_bind(everyone, 'base');
    IF with_default THEN
        PERFORM scim.scim_policy_set_default('base');
    END IF;
    INSERT INTO public.fixture_tokens VALUES (tenant, 'idp', scim.scim_token_issue(tenant || ' IdP'));
    INSERT INTO public.fixture_tokens VALUES (tenant, 'revoked', scim.scim_token_issue(tenant || ' old'));
    PERFORM scim.scim_token_revoke(t.id) FROM scim.scim_tokens() t WHERE t.label = tenant || ' old';
END
$$;

SELECT scim.scim_tenant_create('second'), scim.scim_tenant_create('third');
BEGIN; SELECT pg_temp.fixture('default', 400, true); COMMIT;
BEGIN; SELECT pg_temp.fixture('second', 300, true); COMMIT;
BEGIN; SELECT pg_temp.fixture('third', 300, false); COMMIT;
