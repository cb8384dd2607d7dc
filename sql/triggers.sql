-- The trigger functions written in Rust (src/triggers/). pgrx writes
-- 'MODULE_PATHNAME' into the CREATE FUNCTION of a trigger function, which
-- this extension cannot use (its library is versioned and the control
-- file names none: scim_pg.control), so they are created here from the
-- library every other function of this script names (scim.fold's).
DO $$
DECLARE library text := (SELECT p.probin FROM pg_catalog.pg_proc p
                          WHERE p.oid = 'scim.fold(text)'::pg_catalog.regprocedure);
BEGIN
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION scim._changes_resources() RETURNS trigger LANGUAGE c AS %L, %L',
        library, '_changes_resources_wrapper');
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION scim._policy_users_changed() RETURNS trigger LANGUAGE c AS %L, %L',
        library, '_policy_users_changed_wrapper');
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION scim._tenants_written() RETURNS trigger LANGUAGE c AS %L, %L',
        library, '_tenants_written_wrapper');
END
$$;

-- Each backend keeps what it read about tenants (the resolved GUC
-- scim.tenant, whether a tenant has a default policy) only while it has
-- not written scim.tenants since (src/store/tenant.rs); these count the
-- writes. ALWAYS: under session_replication_role = replica too.
CREATE TRIGGER tenants_written_before BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON scim.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION scim._tenants_written();
CREATE TRIGGER tenants_written_after AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scim.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION scim._tenants_written();
ALTER TABLE scim.tenants ENABLE ALWAYS TRIGGER tenants_written_before;
ALTER TABLE scim.tenants ENABLE ALWAYS TRIGGER tenants_written_after;
