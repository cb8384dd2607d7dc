-- Per-tenant extension schemas (RFC 7643 §3.3, §7; README "Extension
-- schemas"). Registration (validation of the definition) is in Rust
-- (scim_extension_schema_put, src/store/extensions.rs); removal and the
-- per-attribute indexes are here. Values live in the resource's jsonb
-- under the schema URN, like the enterprise extension's.
CREATE TABLE scim.extension_schemas (
    tenant_id     uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    urn           text NOT NULL,
    resource_type text NOT NULL CHECK (resource_type IN ('User', 'Group')),
    -- schemaExtensions[].required: every resource must carry it
    required      boolean NOT NULL DEFAULT false,
    -- the canonical RFC 7643 §7 definition (scim_core::extension)
    definition    jsonb NOT NULL,
    created       timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, urn)
);
-- URNs compare case-insensitively (they are ASCII: lower() is exact).
CREATE UNIQUE INDEX extension_schemas_urn_ci ON scim.extension_schemas (tenant_id, lower(urn));

-- Indexes requested with scim_extension_index: one b-tree per (table,
-- URN, attribute), shared by the tenants that asked for it (tenant_id
-- leads), dropped when the last of them removes the schema.
-- A row is enough to (re)create its index (trigger below): pg_dump
-- restores the rows, and with them the indexes.
CREATE TABLE scim.extension_indexes (
    tenant_id  uuid NOT NULL,
    urn        text NOT NULL,
    attribute  text NOT NULL,
    table_name text NOT NULL CHECK (table_name IN ('users', 'groups')),
    case_exact boolean NOT NULL,
    index_name text NOT NULL,
    PRIMARY KEY (tenant_id, urn, attribute),
    FOREIGN KEY (tenant_id, urn) REFERENCES scim.extension_schemas (tenant_id, urn) ON DELETE CASCADE
);

-- The index for one (table, URN, attribute): exactly the expression the
-- filter compiler emits; names and URNs are quoted as literals.
CREATE FUNCTION scim._extension_index_create(tbl text, urn text, attribute text, case_exact boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE expr text; name text;
BEGIN
    expr := format('(resource -> %L) ->> %L', urn, attribute);
    expr := CASE WHEN case_exact THEN format('(%s)', expr) ELSE format('scim.fold(%s)', expr) END;
    name := format('%s_ext_%s', tbl, left(md5(expr), 16));
    IF to_regclass(format('scim.%I', name)) IS NULL THEN  -- shared with other tenants
        EXECUTE format('CREATE INDEX %I ON scim.%I (tenant_id, %s text_pattern_ops)', name, tbl, expr);
    END IF;
    RETURN name;
END
$$;
CREATE FUNCTION scim._extension_index_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scim._extension_index_create(NEW.table_name, NEW.urn, NEW.attribute, NEW.case_exact);
    RETURN NULL;
END
$$;
CREATE TRIGGER extension_indexes_create AFTER INSERT ON scim.extension_indexes
    FOR EACH ROW EXECUTE FUNCTION scim._extension_index_row();

-- Row Level Security: sql/rls.sql.
SELECT pg_catalog.pg_extension_config_dump('scim.extension_schemas', '');
SELECT pg_catalog.pg_extension_config_dump('scim.extension_indexes', '');

-- The current tenant's registered schemas.
CREATE FUNCTION scim.scim_extension_schemas()
RETURNS TABLE (urn text, resource_type text, required boolean, definition jsonb,
               created timestamptz, last_modified timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT e.urn, e.resource_type, e.required, e.definition, e.created, e.last_modified
      FROM scim.extension_schemas e
     WHERE e.tenant_id = tenant
     ORDER BY e.urn;
END
$$;

-- Remove a schema. Resources that still carry its data make this fail
-- (409) unless drop_data: then the data goes too (each such resource gets
-- a new version, and the change feed records it). Its indexes are dropped
-- when no other tenant uses them.
CREATE FUNCTION scim.scim_extension_schema_remove(urn text, drop_data boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    t    uuid := scim.current_tenant();
    e    scim.extension_schemas;
    tbl  text;
    n    bigint;
    idx  record;
BEGIN
    SELECT * INTO e FROM scim.extension_schemas x
     WHERE x.tenant_id = t AND lower(x.urn) = lower(scim_extension_schema_remove.urn)
     FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('no extension schema ''%s'' is registered', scim_extension_schema_remove.urn));
    END IF;
    tbl := CASE e.resource_type WHEN 'User' THEN 'users' ELSE 'groups' END;
    EXECUTE format('SELECT count(*) FROM scim.%I WHERE tenant_id = $1 AND resource ? $2', tbl)
       INTO n USING t, e.urn;
    IF n > 0 AND NOT coalesce(drop_data, false) THEN
        PERFORM scim._raise(409, 'mutability', format(
            'extension schema ''%s'' still has data on %s %s resource(s); remove it with drop_data => true to delete that data too',
            e.urn, n, e.resource_type));
    END IF;
    IF n > 0 THEN
        EXECUTE format(
            'UPDATE scim.%I SET resource = jsonb_set(resource - $2, ''{schemas}'', '
            'coalesce((SELECT jsonb_agg(s) FROM jsonb_array_elements(resource->''schemas'') s '
            'WHERE s <> to_jsonb($2)), ''[]''::jsonb)), version = version + 1, last_modified = clock_timestamp() '
            'WHERE tenant_id = $1 AND resource ? $2', tbl) USING t, e.urn;
    END IF;
    FOR idx IN SELECT i.index_name FROM scim.extension_indexes i
                WHERE i.tenant_id = t AND i.urn = e.urn LOOP
        DELETE FROM scim.extension_indexes i WHERE i.tenant_id = t AND i.urn = e.urn AND i.index_name = idx.index_name;
        IF NOT EXISTS (SELECT 1 FROM scim.extension_indexes i WHERE i.index_name = idx.index_name) THEN
            EXECUTE format('DROP INDEX IF EXISTS scim.%I', idx.index_name);
        END IF;
    END LOOP;
    DELETE FROM scim.extension_schemas x WHERE x.tenant_id = t AND x.urn = e.urn;
    RETURN n;
END
$$;

-- An index for eq/sw/ew-prefix filters (and sorting) on one registered
-- single-valued string attribute: the b-tree over exactly the expression
-- the filter compiler emits (scim_core::filter::sql::extension_text,
-- folded unless caseExact), text_pattern_ops so LIKE 'x%' uses it too.
-- Returns the index name. Takes a lock on the table while it builds.
CREATE FUNCTION scim.scim_extension_index(urn text, attribute text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t     uuid := scim.current_tenant();
    e     scim.extension_schemas;
    a     jsonb;
    tbl   text;
    name  text;
BEGIN
    SELECT * INTO e FROM scim.extension_schemas x
     WHERE x.tenant_id = t AND lower(x.urn) = lower(scim_extension_index.urn);
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('no extension schema ''%s'' is registered', scim_extension_index.urn));
    END IF;
    SELECT d INTO a FROM jsonb_array_elements(e.definition->'attributes') d
     WHERE lower(d->>'name') = lower(scim_extension_index.attribute);
    IF a IS NULL THEN
        PERFORM scim._raise(400, 'invalidValue', format('schema ''%s'' has no attribute ''%s''', e.urn, scim_extension_index.attribute));
    END IF;
    IF a->>'type' NOT IN ('string', 'reference') OR (a->>'multiValued')::boolean THEN
        PERFORM scim._raise(400, 'invalidValue', format(
            'only single-valued string attributes can be indexed; ''%s'' is %s%s', a->>'name',
            CASE WHEN (a->>'multiValued')::boolean THEN 'multi-valued ' ELSE '' END, a->>'type'));
    END IF;
    tbl := CASE e.resource_type WHEN 'User' THEN 'users' ELSE 'groups' END;
    name := scim._extension_index_create(tbl, e.urn, a->>'name', (a->>'caseExact')::boolean);
    INSERT INTO scim.extension_indexes VALUES (t, e.urn, a->>'name', tbl, (a->>'caseExact')::boolean, name)
        ON CONFLICT DO NOTHING;
    RETURN name;
END
$$;
