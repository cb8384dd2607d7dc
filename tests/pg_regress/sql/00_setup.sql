-- Setup shared by the SQL regression tests.
-- btree_gin and pg_trgm first, as the README advises: scim_pg then makes
-- its GIN indexes tenant-leading and its trigram indexes (99_drop covers
-- the install without them).
CREATE EXTENSION btree_gin;
CREATE EXTENSION pg_trgm;
CREATE EXTENSION scim_pg;
SELECT extname, extversion IS NOT NULL AS versioned FROM pg_extension WHERE extname = 'scim_pg';

-- try(sql): run a statement and show either 'ok' or the SCIM error it
-- raised: SQLSTATE, the DETAIL json (status/scimType) and the message.
-- Random uuids in messages are masked so the expected output is stable
-- (the tests' fixed ids, 00000000-…, stay readable).
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text; d text; s text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, s = RETURNED_SQLSTATE;
    RETURN s || ' ' || coalesce(d, '') || ' '
        || regexp_replace(m, '(?!00000000-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;

-- uid(userName) / gid(displayName): ids without printing them.
CREATE FUNCTION uid(n text) RETURNS text LANGUAGE sql AS
$$ SELECT id::text FROM scim.users WHERE tenant_id = scim.current_tenant() AND scim.fold(user_name) = scim.fold(n) $$;
CREATE FUNCTION gid(n text) RETURNS text LANGUAGE sql AS
$$ SELECT id::text FROM scim.groups WHERE tenant_id = scim.current_tenant() AND scim.fold(display_name) = scim.fold(n) $$;
