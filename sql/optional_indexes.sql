-- Indexes whose best form depends on contrib extensions. Neither is
-- required, so a plain `CREATE EXTENSION scim_pg;` always works:
--   * btree_gin: the GIN indexes lead with tenant_id (its uuid operator
--     class). One index scan then carries both the tenant and the value, so
--     a lookup in a large tenant never intersects its match with a scan of
--     all that tenant's rows, and a small tenant never pays for the others'
--     entries (20x the email lookups/s in the largest of 1,000 tenants,
--     docs/scale.md "Indexes in a multi-tenant database"). Without it
--     users_email_values indexes the values alone: right, but a lookup in
--     a database of many tenants reads every tenant's entries for the value.
--   * pg_trgm: co/sw/ew on userName and displayName (users and groups) are
--     index-assisted; without it they scan the tenant's rows.
-- They are made at install with what is there (install btree_gin and
-- pg_trgm before scim_pg), and scim.scim_create_trigram_indexes() remakes
-- them in their best form after either is installed later. Indexes on
-- extension tables are not dumped by pg_dump: that explicit call is
-- recorded in scim.settings, and restoring the row makes them again
-- (trigger below); a restore that creates the contrib extensions first
-- gets the best forms at CREATE EXTENSION anyway.
CREATE FUNCTION scim._create_optional_indexes() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    ops  text;
    lead text := '';
    keys int := 1;
    ix   text;
    tbl  text;
    expr text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        lead := 'tenant_id, ';
        keys := 2;
    END IF;
    SELECT format('%I.gin_trgm_ops', n.nspname) INTO ops
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    FOR ix, tbl, expr IN
        SELECT v.ix, v.tbl, v.expr FROM (VALUES
            ('users_email_values', 'users', 'email_values'),
            ('users_user_name_trgm', 'users', 'scim.fold(user_name) ' || ops),
            ('users_display_name_trgm', 'users', 'scim.fold(display_name) ' || ops),
            ('groups_display_name_trgm', 'groups', 'scim.fold(display_name) ' || ops)) v(ix, tbl, expr)
         WHERE v.expr IS NOT NULL
    LOOP
        -- An index made before btree_gin was there is made again, leading
        -- with the tenant.
        IF EXISTS (SELECT 1 FROM pg_index i
                    WHERE i.indexrelid = pg_catalog.to_regclass('scim.' || ix) AND i.indnkeyatts <> keys) THEN
            EXECUTE format('DROP INDEX scim.%I', ix);
        END IF;
        IF pg_catalog.to_regclass('scim.' || ix) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON scim.%I USING gin (%s%s)', ix, tbl, lead, expr);
        END IF;
    END LOOP;
    RETURN ops IS NOT NULL;
END
$$;
SELECT scim._create_optional_indexes();

-- Records the choice; the settings trigger below makes the indexes. True
-- when pg_trgm is installed (the trigram indexes exist).
CREATE FUNCTION scim.scim_create_trigram_indexes() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname IN ('pg_trgm', 'btree_gin')) THEN
        RETURN false;
    END IF;
    INSERT INTO scim.settings (name, value) VALUES ('trigram_indexes', 'true')
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    RETURN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');
END
$$;

CREATE FUNCTION scim._settings_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'trigram_indexes' AND NEW.value = 'true' THEN
        PERFORM scim._create_optional_indexes();
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_apply AFTER INSERT OR UPDATE ON scim.settings
    FOR EACH ROW EXECUTE FUNCTION scim._settings_apply();
