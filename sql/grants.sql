-- Privileges and pinned search_paths (pgrx `finalize`: runs last, over
-- every function the script made).

-- Privileges (README "Security model") ------------------------------------
-- Nothing is executable by PUBLIC and no role gets any table privilege:
-- every write goes through the functions below, which run as the
-- extension owner (SECURITY DEFINER) and confine themselves to one tenant:
-- the token's (scim_web) or the GUC's (scim_app, scim_admin).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA scim FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA scim FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA scim FROM PUBLIC;
GRANT USAGE ON SCHEMA scim TO scim_admin, scim_app, scim_tenant_app, scim_web;

CREATE FUNCTION scim._grant(role text, functions text[], definer boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'scim'::regnamespace AND p.proname = ANY (functions)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, role);
        IF definer THEN
            EXECUTE pg_catalog.format('ALTER FUNCTION %s SECURITY DEFINER', f);
        END IF;
    END LOOP;
END
$$;
-- Pure functions: no table access, no need to run as the owner.
SELECT scim._grant(r, ARRAY['scim_build_info', 'scim_matches'], false)
  FROM unnest(ARRAY['scim_app', 'scim_tenant_app', 'scim_admin']) r;
-- Resources and policy queries of the current tenant (the GUC's, or the
-- token's after scim_session; scim_tenant_app must use scim_session).
SELECT scim._grant(r, ARRAY['scim_create_user', 'scim_create_group', 'scim_import', 'scim_get', 'scim_replace',
                            'scim_patch', 'scim_delete', 'scim_list', 'scim_filter', 'scim_filter_sql',
                            'scim_bulk', 'effective_policy', 'effective_policy_explain',
                            'policy_allows', 'scim_effective_policy', 'scim_effective_policy_explain',
                            'scim_policy_allows', 'scim_policy_changes', 'scim_session', 'scim_changes'], true)
  FROM unnest(ARRAY['scim_app', 'scim_tenant_app', 'scim_admin']) r;
-- Tenants, tokens, policies, settings.
SELECT scim._grant('scim_admin', ARRAY['scim_tenant_create', 'scim_token_issue', 'scim_token_revoke',
                                       'scim_tokens', 'scim_policy_put', 'scim_policy_bind',
                                       'scim_policy_unbind', 'scim_policy_set_default',
                                       'scim_policy_delete', 'scim_create_trigram_indexes',
                                       'scim_token_rotate', 'scim_oauth_client_create', 'scim_oauth_clients',
                                       'scim_oauth_client_revoke', 'scim_rate_limit_set',
                                       'scim_provisioning_log_configure', 'scim_tenant_operations',
                                       'scim_provisioning_log', 'scim_provisioning_log_export',
                                       'scim_provisioning_log_prune', 'scim_changes_prune',
                                       'scim_retention_set', 'scim_extension_schema_put',
                                       'scim_extension_schema_remove', 'scim_extension_index',
                                       'scim_extension_schemas', 'scim_policy_attribute_map',
                                       'scim_policy_attribute_unmap', 'scim_policy_attribute_maps'], true);
-- HTTP: the tenant comes from the bearer token.
SELECT scim._grant('scim_web', ARRAY['scim_http', 'scim_postgrest'], true);
DROP FUNCTION scim._grant(text, text[], boolean);

-- Every function has a fixed search_path, so no object a caller (or any
-- role with CREATE on a schema in someone's search_path) makes can stand
-- in for a builtin inside it. The exceptions: scim._ts, an inlined SQL
-- helper (a SET clause would stop inlining; it is schema-qualified
-- throughout instead, sql/render.sql) and scim.fold, a C function that runs no SQL
-- and is called per row by index builds, rechecks and sorts (a SET clause
-- would add a GUC save/restore to every call).
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'scim'::regnamespace AND p.prokind = 'f'
                AND p.oid NOT IN ('scim._ts(timestamptz)'::regprocedure,
                                  'scim.fold(text)'::regprocedure)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;
