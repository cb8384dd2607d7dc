-- Policy engine: the admin API (see src/policy/; notifications: policy_notify.sql).
--
-- Policies are named documents per tenant (scim.policies), bound to groups
-- (scim.policy_bindings); a tenant may name a default policy
-- (scim.tenants.default_policy). The read side (effective_policy,
-- effective_policy_explain, policy_allows) and document validation are Rust
-- (src/policy/). Bodies here are plpgsql so that references to Rust
-- functions are resolved at run time, not when the extension script runs.

-- Documents are validated and normalised on every write, whatever the path
-- (scim_policy_put, a direct INSERT/UPDATE, a pg_dump restore), and
-- `updated` (when the document last changed) strictly increases whenever
-- it changes. Backends keep parsed documents in the tenant's policy graph,
-- versioned by scim.tenants.policy_epoch (see below).
CREATE FUNCTION scim._policy_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.document := scim._policy_normalize(NEW.document);
    IF TG_OP = 'UPDATE' AND NEW.document IS DISTINCT FROM OLD.document THEN
        NEW.updated := greatest(clock_timestamp(), OLD.updated + interval '1 microsecond', NEW.updated);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER policies_normalize BEFORE INSERT OR UPDATE ON scim.policies
    FOR EACH ROW EXECUTE FUNCTION scim._policy_before_write();

-- Admin API ---------------------------------------------------------------
-- scim_policy_put(name, document) is Rust (validation with a precise detail).

-- A group of the current tenant, locked against concurrent deletion; 404 otherwise.
CREATE FUNCTION scim._policy_group(tenant uuid, group_ref text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE g uuid;
BEGIN
    IF group_ref ~* '^\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s*$' THEN
        SELECT id INTO g FROM scim.groups
         WHERE tenant_id = tenant AND id = trim(group_ref)::uuid FOR KEY SHARE;
    END IF;
    IF g IS NULL THEN
        PERFORM scim._raise(404, NULL, format('Group ''%s'' not found', group_ref));
    END IF;
    RETURN g;
END
$$;

-- A policy of the current tenant, locked against concurrent deletion; 404 otherwise.
CREATE FUNCTION scim._policy_lock(tenant uuid, policy text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM scim.policies p WHERE p.tenant_id = tenant AND p.name = policy FOR KEY SHARE;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('policy "%s" not found', policy));
    END IF;
END
$$;

-- Bind a policy to a group. Idempotent: true if the binding was created,
-- false if it already existed.
CREATE FUNCTION scim.scim_policy_bind(group_id text, policy text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t uuid := scim.current_tenant();
    g uuid := scim._policy_group(t, scim_policy_bind.group_id);
BEGIN
    PERFORM scim._policy_lock(t, scim_policy_bind.policy);
    INSERT INTO scim.policy_bindings (tenant_id, group_id, policy)
    VALUES (t, g, scim_policy_bind.policy)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- Unbind: true if a binding was removed, false if there was none. An
-- unknown group or policy is a 404 (a typo should not look like success).
CREATE FUNCTION scim.scim_policy_unbind(group_id text, policy text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t uuid := scim.current_tenant();
    g uuid := scim._policy_group(t, scim_policy_unbind.group_id);
BEGIN
    PERFORM scim._policy_lock(t, scim_policy_unbind.policy);
    DELETE FROM scim.policy_bindings b
     WHERE b.tenant_id = t AND b.group_id = g AND b.policy = scim_policy_unbind.policy;
    RETURN FOUND;
END
$$;

-- The policy of users who reach no bound policy. NULL clears it.
CREATE FUNCTION scim.scim_policy_set_default(policy text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid := scim.current_tenant();
BEGIN
    IF policy IS NOT NULL THEN
        PERFORM scim._policy_lock(t, policy);
    END IF;
    UPDATE scim.tenants SET default_policy = policy
     WHERE id = t AND default_policy IS DISTINCT FROM policy;
END
$$;

-- Delete a policy: its bindings go with it (FK cascade), and it stops
-- being the default. 404 if unknown.
CREATE FUNCTION scim.scim_policy_delete(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid := scim.current_tenant();
BEGIN
    UPDATE scim.tenants SET default_policy = NULL
     WHERE id = t AND default_policy = scim_policy_delete.name;
    DELETE FROM scim.policies p WHERE p.tenant_id = t AND p.name = scim_policy_delete.name;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('policy "%s" not found', scim_policy_delete.name));
    END IF;
END
$$;
