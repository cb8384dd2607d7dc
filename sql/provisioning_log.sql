-- The provisioning log (README "Provisioning log and change feed"): one row
-- per write request and per failed request (4xx included), written by
-- scim._http after the request's sub-transaction, so a failed request is
-- logged although its work was rolled back. Reads only when the tenant
-- opts in (scim_provisioning_log_configure). The row is written by
-- src/provisioning_log.rs; this file holds the table and the read side.

CREATE TABLE scim.provisioning_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant_id        uuid,          -- NULL: no valid credential, so no tenant
    credential_id    uuid,          -- a token or an OAuth client
    credential_label text,
    sql_role         text NOT NULL DEFAULT session_user,
    method           text NOT NULL,
    path             text NOT NULL,
    resource_type    text,
    resource_id      text,
    status           int NOT NULL,
    scim_type        text,
    detail           text,
    request_id       text,
    duration_ms      double precision,
    version_before   bigint,
    version_after    bigint,
    attributes       text[],        -- attribute names the request wrote
    request_body     jsonb          -- only when the tenant opts in; never passwords
);
CREATE INDEX provisioning_log_tenant_at ON scim.provisioning_log (tenant_id, at);
-- BRIN: rows arrive in time order, and a BRIN costs next to nothing per
-- insert (the prune is its only reader).
CREATE INDEX provisioning_log_at ON scim.provisioning_log USING brin (at);
-- The current tenant's log, newest first, filtered by time, status range,
-- resource type and id; `before_id` pages backwards (the last id seen).
CREATE FUNCTION scim.scim_provisioning_log(
    since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
    min_status int DEFAULT NULL, max_status int DEFAULT NULL,
    resource_type text DEFAULT NULL, resource_id text DEFAULT NULL,
    before_id bigint DEFAULT NULL, max_rows int DEFAULT 100)
RETURNS SETOF scim.provisioning_log
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();
BEGIN
    IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
        PERFORM scim._raise(400, 'invalidValue', 'max_rows must be between 1 and 10000');
    END IF;
    RETURN QUERY
        SELECT l.* FROM scim.provisioning_log l
         WHERE l.tenant_id = tenant
           AND (since IS NULL OR l.at >= since)
           AND (until IS NULL OR l.at < until)
           AND (min_status IS NULL OR l.status >= min_status)
           AND (max_status IS NULL OR l.status <= max_status)
           AND (scim_provisioning_log.resource_type IS NULL
                OR lower(l.resource_type) = lower(rtrim(scim_provisioning_log.resource_type, 's')))
           AND (scim_provisioning_log.resource_id IS NULL OR l.resource_id = scim_provisioning_log.resource_id)
           AND (before_id IS NULL OR l.id < before_id)
         ORDER BY l.at DESC, l.id DESC
         LIMIT max_rows;
END
$$;

-- JSON lines for a SIEM: one object per row, oldest first, e.g.
--   psql -c "\copy (SELECT * FROM scim.scim_provisioning_log_export(now() - interval '1 day')) TO 'scim.jsonl'"
CREATE FUNCTION scim.scim_provisioning_log_export(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(l))::text
      FROM scim.provisioning_log l
     WHERE l.tenant_id = tenant
       AND (since IS NULL OR l.at >= since)
       AND (until IS NULL OR l.at < until)
     ORDER BY l.at, l.id;
END
$$;

-- Retention, for the log and the change feed (scim.settings rows, kept
-- by pg_dump): NULL leaves a value as it is.
CREATE FUNCTION scim.scim_retention_set(provisioning_log interval DEFAULT NULL, change_feed interval DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF provisioning_log <= interval '0' OR change_feed <= interval '0' THEN
        PERFORM scim._raise(400, 'invalidValue', 'a retention must be positive');
    END IF;
    IF provisioning_log IS NOT NULL THEN
        INSERT INTO scim.settings (name, value) VALUES ('provisioning_log_retention', to_jsonb(provisioning_log::text))
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    IF change_feed IS NOT NULL THEN
        INSERT INTO scim.settings (name, value) VALUES ('change_feed_retention', to_jsonb(change_feed::text))
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    END IF;
END
$$;

-- Log rows older than the retention (default 30 days) are deleted, in
-- every tenant; with the change feed's (scim_changes_prune). Run it from
-- cron / pg_cron; the log write also calls it every 4,096 rows. Returns
-- how many log rows went.
-- Planned for its cutoff each time (it runs rarely): a generic plan reads
-- all of provisioning_log_tenant_at instead of the BRIN ranges that are old
-- enough.
CREATE FUNCTION scim.scim_provisioning_log_prune() RETURNS bigint
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    -- The cutoff is a value, not clock_timestamp() - keep in the WHERE
    -- clause: a volatile expression is evaluated per row and is no index
    -- condition, so every prune read the whole log.
    cutoff timestamptz := clock_timestamp() - scim._retention('provisioning_log_retention', '30 days');
    gone bigint;
BEGIN
    DELETE FROM scim.provisioning_log l WHERE l.at < cutoff;
    GET DIAGNOSTICS gone = ROW_COUNT;
    PERFORM scim.scim_changes_prune();
    RETURN gone;
END
$$;

-- The current tenant's log as a view (for reporting roles granted SELECT
-- on it; RLS on the table confines direct readers as everywhere else).
CREATE VIEW scim.provisioning_log_current WITH (security_barrier) AS
    SELECT l.* FROM scim.provisioning_log l WHERE l.tenant_id = scim.current_tenant();
