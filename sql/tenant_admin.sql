-- Tenants and tokens: the SQL-language part of the admin API (token issue
-- and rotation are in Rust: randomness and hashing, src/auth.rs).

-- Tenants ---------------------------------------------------------------
CREATE FUNCTION scim.scim_tenant_create(name text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE created uuid;
BEGIN
    INSERT INTO scim.tenants (name) VALUES (scim_tenant_create.name) RETURNING id INTO created;
    RETURN created;
EXCEPTION
    WHEN unique_violation THEN
        PERFORM scim._raise(409, 'uniqueness', format('tenant "%s" already exists', scim_tenant_create.name));
    WHEN check_violation OR not_null_violation THEN
        PERFORM scim._raise(400, 'invalidValue', 'a tenant name must be a non-empty string');
END
$$;

-- Tokens (issue is in Rust: randomness and hashing) ---------------------
CREATE FUNCTION scim.scim_tokens()
RETURNS TABLE (id uuid, label text, created timestamptz, revoked timestamptz,
               expires timestamptz, last_used timestamptz, admin boolean)
LANGUAGE plpgsql STABLE AS $$
-- The tenant is resolved before the query (an unknown tenant is an error
-- even when there is no row to filter; see scim_policy_changes).
DECLARE tenant uuid := scim.current_tenant();
BEGIN
    RETURN QUERY
    SELECT t.id, t.label, t.created, t.revoked, t.expires, t.last_used, t.admin
      FROM scim.tokens t
     WHERE t.tenant_id = tenant
     ORDER BY t.created, t.id;
END
$$;

CREATE FUNCTION scim.scim_token_revoke(token_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scim.tokens SET revoked = coalesce(revoked, clock_timestamp())
     WHERE tenant_id = scim.current_tenant() AND id = token_id;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('token %s not found', token_id));
    END IF;
END
$$;
