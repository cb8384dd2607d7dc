-- Credential lifecycle (README "Credentials"): token expiry, rotation with
-- overlap, last use; OAuth 2.0 clients (client credentials grant); the
-- per-tenant operating settings (rate limit, provisioning log options)
-- that authentication reads in the same statement as the token.

ALTER TABLE scim.tokens
    ADD COLUMN expires      timestamptz,                  -- NULL: never
    ADD COLUMN last_used    timestamptz,                  -- about once a minute at most
    ADD COLUMN admin        boolean NOT NULL DEFAULT false,  -- may read /ProvisioningLog
    ADD COLUMN oauth_client uuid;                         -- issued by POST /oauth/token
CREATE INDEX tokens_oauth_client ON scim.tokens (oauth_client, expires) WHERE oauth_client IS NOT NULL;

-- OAuth 2.0 clients (RFC 6749 §4.4): only a SHA-256 of the secret is stored.
CREATE TABLE scim.oauth_clients (
    tenant_id      uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),   -- the client_id
    label          text NOT NULL,
    secret_hash    bytea NOT NULL,
    admin          boolean NOT NULL DEFAULT false,
    token_lifetime interval NOT NULL DEFAULT interval '1 hour'
                   CHECK (token_lifetime > interval '0' AND token_lifetime <= interval '1 day'),
    created        timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked        timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX oauth_clients_id ON scim.oauth_clients (id);

-- Per-tenant operating settings; no row means the defaults (no rate
-- limit, reads not logged, no values in the log).
CREATE TABLE scim.tenant_operations (
    tenant_id      uuid PRIMARY KEY REFERENCES scim.tenants (id) ON DELETE CASCADE,
    rate_per_second real CHECK (rate_per_second > 0),
    rate_burst     int CHECK (rate_burst >= 1),
    log_reads      boolean NOT NULL DEFAULT false,
    log_values     boolean NOT NULL DEFAULT false,
    CHECK ((rate_per_second IS NULL) = (rate_burst IS NULL))
);

SELECT pg_catalog.pg_extension_config_dump('scim.oauth_clients', '');
SELECT pg_catalog.pg_extension_config_dump('scim.tenant_operations', '');

-- Record a use, unless another request of the same token is doing it
-- (SKIP LOCKED: authentication never waits on it).
CREATE FUNCTION scim._credential_touch(token_id uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE scim.tokens t SET last_used = clock_timestamp()
     WHERE (t.tenant_id, t.id) IN (
           SELECT l.tenant_id, l.id FROM scim.tokens l
            WHERE l.id = token_id
              AND (l.last_used IS NULL OR l.last_used < clock_timestamp() - interval '1 minute')
              FOR NO KEY UPDATE SKIP LOCKED)
$$;

-- A new secret for the token's label, scope and lifetime; the old token
-- stays valid until `overlap` has passed (then 401), so the IdP can be
-- updated without a provisioning gap. Returns the new token once.
CREATE FUNCTION scim.scim_token_rotate(token_id uuid, overlap interval DEFAULT interval '1 day')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    old scim.tokens;
    fresh text;
BEGIN
    IF overlap IS NULL OR overlap < interval '0' THEN
        PERFORM scim._raise(400, 'invalidValue', 'overlap must be zero or positive');
    END IF;
    SELECT * INTO old FROM scim.tokens t
     WHERE t.tenant_id = scim.current_tenant() AND t.id = token_id AND t.revoked IS NULL
       AND (t.expires IS NULL OR t.expires > clock_timestamp())
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('token %s not found (or revoked or expired)', token_id));
    END IF;
    fresh := scim.scim_token_issue(old.label, old.expires - old.created, old.admin);
    UPDATE scim.tokens t SET expires = least(coalesce(t.expires, 'infinity'), clock_timestamp() + overlap)
     WHERE t.tenant_id = old.tenant_id AND t.id = old.id;
    RETURN fresh;
END
$$;

-- OAuth clients of the current tenant, without secrets.
CREATE FUNCTION scim.scim_oauth_clients()
RETURNS TABLE (client_id uuid, label text, admin boolean, token_lifetime interval,
               created timestamptz, revoked timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT c.id, c.label, c.admin, c.token_lifetime, c.created, c.revoked
      FROM scim.oauth_clients c
     WHERE c.tenant_id = tenant
     ORDER BY c.created, c.id;
END
$$;

-- Revoking a client revokes the access tokens it was given.
CREATE FUNCTION scim.scim_oauth_client_revoke(client_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE tenant uuid := scim.current_tenant();
BEGIN
    UPDATE scim.oauth_clients c SET revoked = coalesce(c.revoked, clock_timestamp())
     WHERE c.tenant_id = tenant AND c.id = client_id;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('OAuth client %s not found', client_id));
    END IF;
    UPDATE scim.tokens t SET revoked = coalesce(t.revoked, clock_timestamp())
     WHERE t.tenant_id = tenant AND t.oauth_client = client_id;
END
$$;

-- The client's tenant and scope, for POST /oauth/token (before any tenant
-- is known; owner-only).
CREATE FUNCTION scim._oauth_client(client_id uuid)
RETURNS TABLE (tenant_id uuid, label text, secret_hash bytea, admin boolean, lifetime_seconds bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.tenant_id, c.label, c.secret_hash, c.admin, extract(epoch FROM c.token_lifetime)::bigint
      FROM scim.oauth_clients c
     WHERE c.id = client_id AND c.revoked IS NULL
$$;

-- Requests per second and burst for the current tenant, enforced by the
-- gateway (README "Rate limits"); NULL, NULL turns the limit off.
CREATE FUNCTION scim.scim_rate_limit_set(requests_per_second real, burst int DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE b int := coalesce(burst, greatest(1, ceil(requests_per_second)::int));
BEGIN
    IF requests_per_second IS NOT NULL AND (requests_per_second <= 0 OR b < 1) THEN
        PERFORM scim._raise(400, 'invalidValue', 'requests_per_second and burst must be positive');
    END IF;
    INSERT INTO scim.tenant_operations AS o (tenant_id, rate_per_second, rate_burst)
    VALUES (scim.current_tenant(), requests_per_second, CASE WHEN requests_per_second IS NOT NULL THEN b END)
    ON CONFLICT (tenant_id) DO UPDATE SET rate_per_second = EXCLUDED.rate_per_second,
                                          rate_burst = EXCLUDED.rate_burst;
END
$$;

-- What the provisioning log keeps for the current tenant: reads too, and
-- the request bodies (PII: off by default; passwords are never kept).
CREATE FUNCTION scim.scim_provisioning_log_configure(log_reads boolean, log_values boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scim.tenant_operations AS o (tenant_id, log_reads, log_values)
    VALUES (scim.current_tenant(), coalesce(log_reads, false), coalesce(log_values, false))
    ON CONFLICT (tenant_id) DO UPDATE SET log_reads = EXCLUDED.log_reads, log_values = EXCLUDED.log_values;
END
$$;

-- The current tenant's operating settings.
CREATE FUNCTION scim.scim_tenant_operations()
RETURNS TABLE (rate_per_second real, rate_burst int, log_reads boolean, log_values boolean)
LANGUAGE sql STABLE AS $$
    SELECT o.rate_per_second, o.rate_burst, coalesce(o.log_reads, false), coalesce(o.log_values, false)
      FROM (SELECT scim.current_tenant() AS id) t
      LEFT JOIN scim.tenant_operations o ON o.tenant_id = t.id
$$;
