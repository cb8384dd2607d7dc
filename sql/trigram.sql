-- co/sw/ew on userName and displayName (users and groups) are index-assisted with
-- pg_trgm when it is installed (CREATE EXTENSION pg_trgm before scim_pg, or
-- call scim.scim_create_trigram_indexes() afterwards). It is not a hard
-- requirement so that `CREATE EXTENSION scim_pg` works without it. Like
-- users_email_values they lead with tenant_id (btree_gin): a pattern
-- lookup reads only the tenant's entries.
-- Indexes on extension tables are not dumped by pg_dump: an explicit
-- scim_create_trigram_indexes() is recorded in scim.settings, and restoring
-- that row creates them again (trigger below).
CREATE FUNCTION scim._create_trigram_indexes() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE ops text;
BEGIN
    SELECT format('%I.gin_trgm_ops', n.nspname) INTO ops
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    IF ops IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS users_user_name_trgm ON scim.users USING gin (tenant_id, scim.fold(user_name) %s)', ops);
    EXECUTE format('CREATE INDEX IF NOT EXISTS users_display_name_trgm ON scim.users USING gin (tenant_id, scim.fold(display_name) %s)', ops);
    EXECUTE format('CREATE INDEX IF NOT EXISTS groups_display_name_trgm ON scim.groups USING gin (tenant_id, scim.fold(display_name) %s)', ops);
    RETURN true;
END
$$;
SELECT scim._create_trigram_indexes();

-- Records the choice; the settings trigger below makes the indexes.
CREATE FUNCTION scim.scim_create_trigram_indexes() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        RETURN false;
    END IF;
    INSERT INTO scim.settings (name, value) VALUES ('trigram_indexes', 'true')
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    RETURN true;
END
$$;

CREATE FUNCTION scim._settings_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'trigram_indexes' AND NEW.value = 'true' THEN
        PERFORM scim._create_trigram_indexes();
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_apply AFTER INSERT OR UPDATE ON scim.settings
    FOR EACH ROW EXECUTE FUNCTION scim._settings_apply();
