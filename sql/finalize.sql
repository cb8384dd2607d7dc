-- SQL-language parts of the API that depend on the Rust functions
-- (pgrx `finalize`: runs last).

-- Tenants ---------------------------------------------------------------
CREATE FUNCTION scim.scim_tenant_create(name text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE created uuid;
BEGIN
    INSERT INTO scim.tenants (name) VALUES (scim_tenant_create.name) RETURNING id INTO created;
    RETURN created;
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'tenant "%" already exists', scim_tenant_create.name
            USING ERRCODE = 'unique_violation', DETAIL = '{"status":409,"scimType":"uniqueness"}';
    WHEN check_violation OR not_null_violation THEN
        RAISE EXCEPTION 'a tenant name must be a non-empty string'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = '{"status":400,"scimType":"invalidValue"}';
END
$$;

-- Tokens (issue is in Rust: randomness and hashing) ---------------------
CREATE FUNCTION scim.scim_tokens()
RETURNS TABLE (id uuid, label text, created timestamptz, revoked timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.label, t.created, t.revoked
      FROM scim.tokens t
     WHERE t.tenant_id = scim.current_tenant()
     ORDER BY t.created, t.id
$$;

CREATE FUNCTION scim.scim_token_revoke(token_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scim.tokens SET revoked = coalesce(revoked, clock_timestamp())
     WHERE tenant_id = scim.current_tenant() AND id = token_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'token % not found', token_id
            USING ERRCODE = 'no_data_found', DETAIL = '{"status":404}';
    END IF;
END
$$;
