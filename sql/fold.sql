-- Case folding maintenance (README "Case-insensitive matching"). The
-- folding key scim.fold() is declared in storage.sql; what depends on it:
-- the unique indexes on userName and group displayName, the displayName
-- and trigram indexes, and the stored users.email_values. When the folding
-- changes (a library with a new scim_fold_version(), or an upgrade from
-- lower()), scim_fold_rebuild() brings them in line; the upgrade scripts
-- call it.

-- Resources whose keys collide under the current folding: what a new rule
-- reveals (e.g. 'straße' and 'STRASSE', or 'é' precomposed and decomposed,
-- stored while the index used lower()). One row per collision. Nothing is
-- merged: rename or delete all but one, then run scim_fold_rebuild().
-- Row Level Security applies: a superuser (or BYPASSRLS role) sees every
-- tenant, anyone else only the current one.
CREATE FUNCTION scim.scim_fold_duplicates()
RETURNS TABLE (tenant_id uuid, tenant text, resource_type text, attribute text,
               fold_key text, ids uuid[], names text[])
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM (
        SELECT u.tenant_id, t.name AS tenant, 'User'::text AS resource_type, 'userName'::text AS attribute,
               scim.fold(u.user_name) AS fold_key,
               array_agg(u.id ORDER BY u.user_name COLLATE "C", u.id) AS ids,
               array_agg(u.user_name ORDER BY u.user_name COLLATE "C", u.id) AS names
          FROM scim.users u JOIN scim.tenants t ON t.id = u.tenant_id
         GROUP BY u.tenant_id, t.name, scim.fold(u.user_name)
        HAVING count(*) > 1
        UNION ALL
        SELECT g.tenant_id, t.name, 'Group', 'displayName', scim.fold(g.display_name),
               array_agg(g.id ORDER BY g.display_name COLLATE "C", g.id),
               array_agg(g.display_name ORDER BY g.display_name COLLATE "C", g.id)
          FROM scim.groups g JOIN scim.tenants t ON t.id = g.tenant_id
         GROUP BY g.tenant_id, t.name, scim.fold(g.display_name)
        HAVING count(*) > 1) d
     ORDER BY d.tenant COLLATE "C", d.resource_type, d.fold_key COLLATE "C"
$$;

-- Recompute everything stored or indexed by scim.fold(). Fails first, with
-- the collisions named and nothing changed, if the unique indexes could not
-- hold. Then: email_values recomputed; the three name indexes created anew
-- (their one definition is here; CREATE EXTENSION runs this function); any
-- other index on scim.users / scim.groups that uses scim.fold (trigram
-- indexes) rebuilt, and one still on lower() (0.1.0's trigram indexes)
-- replaced through scim_create_trigram_indexes(). Each index records the
-- folding version as its comment. Returns the number of indexes built.
-- The indexes on scim.users and scim.groups whose expressions call `fn`
-- (pg_depend records the function an index expression uses), oldest first.
CREATE FUNCTION scim._indexes_using(fn regprocedure) RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
    SELECT i.indexrelid::regclass
      FROM pg_index i JOIN pg_depend d
        ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.refclassid = 'pg_proc'::regclass
     WHERE i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass)
       AND d.refobjid = fn
     ORDER BY 1
$$;

CREATE FUNCTION scim.scim_fold_rebuild() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    collisions bigint;
    sample     text;
    ix         regclass;
    old_trgm   boolean := false;
    built      integer := 0;
BEGIN
    SELECT count(*), string_agg(format('tenant %s (%s): %s %s %L: ids %s',
                                       d.tenant, d.tenant_id, d.resource_type, d.attribute,
                                       d.fold_key, array_to_string(d.ids, ', ')), E'\n')
      INTO collisions, sample
      FROM scim.scim_fold_duplicates() d;
    IF collisions > 0 THEN
        RAISE EXCEPTION '% name(s) are held by more than one resource under the case folding "%"; nothing was changed',
                        collisions, scim.scim_fold_version()
            USING ERRCODE = 'unique_violation',
                  DETAIL = sample,
                  HINT = 'SELECT * FROM scim.scim_fold_duplicates() lists them; rename or delete all but one of each, then run scim.scim_fold_rebuild() again.';
    END IF;

    UPDATE scim.users u
       SET email_values = f.v
      FROM (SELECT x.tenant_id, x.id,
                   ARRAY(SELECT scim.fold(e.el->>'value')
                           FROM jsonb_array_elements(CASE jsonb_typeof(x.resource->'emails')
                                                     WHEN 'array' THEN x.resource->'emails' END)
                                WITH ORDINALITY AS e(el, n)
                          WHERE jsonb_typeof(e.el->'value') = 'string'
                          ORDER BY e.n) AS v
              FROM scim.users x) f
     WHERE u.tenant_id = f.tenant_id AND u.id = f.id AND u.email_values IS DISTINCT FROM f.v;

    DROP INDEX IF EXISTS scim.users_user_name_ci, scim.users_display_name_ci, scim.groups_display_name_ci;
    CREATE UNIQUE INDEX users_user_name_ci ON scim.users (tenant_id, scim.fold(user_name));
    CREATE INDEX users_display_name_ci ON scim.users (tenant_id, scim.fold(display_name));
    CREATE UNIQUE INDEX groups_display_name_ci ON scim.groups (tenant_id, scim.fold(display_name));

    FOR ix IN SELECT scim._indexes_using('pg_catalog.lower(text)') LOOP
        EXECUTE format('DROP INDEX %s', ix);
        old_trgm := true;
    END LOOP;
    IF old_trgm THEN
        PERFORM scim.scim_create_trigram_indexes();
    END IF;

    FOR ix IN SELECT scim._indexes_using('scim.fold(text)') LOOP
        IF ix::text NOT LIKE '%\_ci' THEN
            EXECUTE format('REINDEX INDEX %s', ix);
        END IF;
        EXECUTE format('COMMENT ON INDEX %s IS %L', ix, 'scim.fold ' || scim.scim_fold_version());
        built := built + 1;
    END LOOP;
    RETURN built;
END
$$;

-- The name indexes, built with the current folding.
SELECT scim.scim_fold_rebuild();
