-- Everything the upgrade test's fixture holds, read through the SQL API
-- that 0.1.0 and 0.2.0 share, one line per object (scripts/test step
-- `upgrade` compares the lines before and after ALTER EXTENSION UPDATE):
-- tenants and default policies, every user and group as scim_get renders
-- it, list totals, policy documents and bindings, effective policies and
-- decisions, tokens, and what each token is allowed over HTTP.
CREATE FUNCTION pg_temp.readback(tenant text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    PERFORM set_config('scim.tenant', tenant, true);
    RETURN QUERY SELECT format('%s tenant default_policy=%s', tenant, t.default_policy)
                   FROM scim.tenants t WHERE t.id = scim.current_tenant();
    RETURN QUERY SELECT format('%s totals users=%s groups=%s active=%s', tenant,
                               scim.scim_list('User', NULL, 1, 0)->>'totalResults',
                               scim.scim_list('Group', NULL, 1, 0)->>'totalResults',
                               scim.scim_list('User', 'active eq true', 1, 0)->>'totalResults');
    FOR r IN SELECT u.id FROM scim.users u WHERE u.tenant_id = scim.current_tenant() ORDER BY u.id LOOP
        RETURN NEXT format('%s user %s', tenant, scim.scim_get('User', r.id::text));
    END LOOP;
    FOR r IN SELECT g.id FROM scim.groups g WHERE g.tenant_id = scim.current_tenant() ORDER BY g.id LOOP
        RETURN NEXT format('%s group %s', tenant, scim.scim_get('Group', r.id::text));
    END LOOP;
    RETURN QUERY SELECT format('%s filter %s -> %s', tenant, f,
                               (SELECT string_agg(x->>'userName', ',' ORDER BY x->>'userName')
                                  FROM jsonb_array_elements(scim.scim_list('User', f, 1, 100)->'Resources') x))
                   FROM unnest(ARRAY['name.familyName eq "ärger" and userName ew "-user-8"',
                                     'externalId eq "ext-' || tenant || '-33"', 'userName sw "' || upper(tenant) || '-USER-10"']) f;
    RETURN QUERY SELECT format('%s policy %s %s', tenant, p.name, p.document)
                   FROM scim.policies p WHERE p.tenant_id = scim.current_tenant() ORDER BY p.name;
    RETURN QUERY SELECT format('%s binding %s %s', tenant, g.display_name, b.policy)
                   FROM scim.policy_bindings b JOIN scim.groups g ON g.tenant_id = b.tenant_id AND g.id = b.group_id
                  WHERE b.tenant_id = scim.current_tenant() ORDER BY g.display_name, b.policy;
    FOR r IN SELECT u.id, u.user_name FROM scim.users u WHERE u.tenant_id = scim.current_tenant()
                AND (u.user_name ~ '-user-(1|2|3|4|5|6|7|8|9)?[05]$' OR u.user_name ~ '-user-(4[0-9]|1[0-4][0-9])$')
              ORDER BY u.user_name LOOP
        RETURN NEXT format('%s effective %s %s allows git=%s prod=%s crm=%s', tenant, r.user_name,
                           scim.effective_policy(r.id::text),
                           scim.policy_allows(r.id::text, 'apps', 'git'), scim.policy_allows(r.id::text, 'envs', 'prod'),
                           scim.policy_allows(r.user_name, 'apps', 'crm'));
    END LOOP;
    RETURN QUERY SELECT format('%s token %s %s %s %s', tenant, t.id, t.label, t.created, t.revoked)
                   FROM scim.scim_tokens() t ORDER BY t.created, t.id;
END
$$;

SELECT pg_temp.readback(t) FROM unnest(ARRAY['default', 'second', 'third']) t;

-- Each token over HTTP: the IdP tokens list their own tenant's users,
-- revoked ones are refused.
SELECT format('http %s %s -> %s %s', f.tenant, f.label, r.status, coalesce(r.body->>'totalResults', r.body->>'status'))
  FROM public.fixture_tokens f,
       LATERAL scim.scim_http('GET', '/Users', 'count=1', jsonb_build_object('authorization', 'Bearer ' || f.token)) r
 ORDER BY f.tenant, f.label;
