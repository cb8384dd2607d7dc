-- Policy from group attributes (issue 13; README "Policy from group
-- attributes"). A tenant maps an attribute of one of its registered Group
-- extensions into the policy model; every group holding a value of it
-- then has that value as a policy bound to it (built with the policy
-- graph, src/policy/graph.rs, scim_core::policy::AttributeTerm):
--
--   allow   <domain>  string(s) → allow list of the domain (intersection)
--   limit   <name>    number    → limit (minimum wins)
--   require <name>    string(s) → required set (union)
--   rank    <name>    string    → ranked enum, `ranks` least restrictive
--                                 first; the most restrictive value wins (a
--                                 value not in `ranks` ranks above all)
CREATE TABLE scim.policy_attribute_maps (
    tenant_id uuid NOT NULL,
    urn       text NOT NULL,
    attribute text NOT NULL,      -- canonical name, as in the definition
    kind      text NOT NULL CHECK (kind IN ('allow', 'limit', 'require', 'rank')),
    target    text NOT NULL CHECK (target <> '' AND target = btrim(target)),
    ranks     jsonb CHECK ((kind = 'rank') = (ranks IS NOT NULL)),
    PRIMARY KEY (tenant_id, urn, attribute),
    FOREIGN KEY (tenant_id, urn) REFERENCES scim.extension_schemas (tenant_id, urn) ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('scim.policy_attribute_maps', '');
-- Row Level Security: sql/rls.sql.

CREATE FUNCTION scim.scim_policy_attribute_map(urn text, attribute text, kind text, target text,
                                               ranks jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    t    uuid := scim.current_tenant();
    e    scim.extension_schemas;
    a    jsonb;
    k    text := lower(coalesce(scim_policy_attribute_map.kind, ''));
    ty   text;
    multi boolean;
    missing text;
BEGIN
    SELECT * INTO e FROM scim.extension_schemas x
     WHERE x.tenant_id = t AND lower(x.urn) = lower(scim_policy_attribute_map.urn);
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('no extension schema ''%s'' is registered', scim_policy_attribute_map.urn));
    END IF;
    IF e.resource_type <> 'Group' THEN
        PERFORM scim._raise(400, 'invalidValue', format('''%s'' extends %s; only Group attributes can carry policy', e.urn, e.resource_type));
    END IF;
    SELECT d INTO a FROM jsonb_array_elements(e.definition->'attributes') d
     WHERE lower(d->>'name') = lower(scim_policy_attribute_map.attribute);
    IF a IS NULL THEN
        PERFORM scim._raise(400, 'invalidValue', format('schema ''%s'' has no attribute ''%s''', e.urn, scim_policy_attribute_map.attribute));
    END IF;
    ty := a->>'type';
    multi := (a->>'multiValued')::boolean;
    IF k NOT IN ('allow', 'limit', 'require', 'rank') THEN
        PERFORM scim._raise(400, 'invalidValue', format('kind ''%s'' is not one of allow, limit, require, rank', scim_policy_attribute_map.kind));
    END IF;
    IF target IS NULL OR target = '' OR target <> btrim(target) THEN
        PERFORM scim._raise(400, 'invalidValue', 'target must be a non-empty name without leading or trailing spaces');
    END IF;
    IF (k IN ('allow', 'require') AND ty NOT IN ('string', 'reference'))
       OR (k = 'limit' AND (ty NOT IN ('integer', 'decimal') OR multi))
       OR (k = 'rank' AND (ty <> 'string' OR multi)) THEN
        PERFORM scim._raise(400, 'invalidValue', format(
            '%s needs %s; ''%s'' is %s%s', k,
            CASE k WHEN 'limit' THEN 'a single-valued integer or decimal attribute'
                   WHEN 'rank' THEN 'a single-valued string attribute'
                   ELSE 'a string attribute' END,
            a->>'name', CASE WHEN multi THEN 'multi-valued ' ELSE '' END, ty));
    END IF;
    IF k = 'rank' THEN
        IF jsonb_typeof(ranks) IS DISTINCT FROM 'array' OR jsonb_array_length(ranks) = 0
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(ranks) r WHERE jsonb_typeof(r) <> 'string' OR r #>> '{}' = '')
           OR (SELECT count(DISTINCT lower(r #>> '{}')) FROM jsonb_array_elements(ranks) r) <> jsonb_array_length(ranks) THEN
            PERFORM scim._raise(400, 'invalidValue', 'ranks must be a non-empty array of distinct strings, least restrictive first');
        END IF;
        SELECT string_agg(c #>> '{}', ', ') INTO missing
          FROM jsonb_array_elements(coalesce(a->'canonicalValues', '[]')) c
         WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(ranks) r WHERE lower(r #>> '{}') = lower(c #>> '{}'));
        IF missing IS NOT NULL THEN
            PERFORM scim._raise(400, 'invalidValue', format('ranks must rank every canonical value of ''%s''; missing: %s', a->>'name', missing));
        END IF;
    ELSIF ranks IS NOT NULL THEN
        PERFORM scim._raise(400, 'invalidValue', 'ranks are only for kind rank');
    END IF;
    INSERT INTO scim.policy_attribute_maps AS m (tenant_id, urn, attribute, kind, target, ranks)
    VALUES (t, e.urn, a->>'name', k, target, CASE WHEN k = 'rank' THEN ranks END)
    ON CONFLICT ON CONSTRAINT policy_attribute_maps_pkey DO UPDATE
       SET kind = EXCLUDED.kind, target = EXCLUDED.target, ranks = EXCLUDED.ranks;
    RETURN jsonb_build_object('attribute', e.urn || ':' || (a->>'name'), 'kind', k, 'target', target,
                              'ranks', CASE WHEN k = 'rank' THEN ranks END);
END
$$;

CREATE FUNCTION scim.scim_policy_attribute_unmap(urn text, attribute text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM scim.policy_attribute_maps m
     WHERE m.tenant_id = scim.current_tenant() AND lower(m.urn) = lower(scim_policy_attribute_unmap.urn)
       AND lower(m.attribute) = lower(scim_policy_attribute_unmap.attribute);
    RETURN FOUND;
END
$$;

CREATE FUNCTION scim.scim_policy_attribute_maps()
RETURNS TABLE (urn text, attribute text, kind text, target text, ranks jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT m.urn, m.attribute, m.kind, m.target, m.ranks FROM scim.policy_attribute_maps m
     WHERE m.tenant_id = tenant ORDER BY m.urn, m.attribute;
END
$$;

-- A group whose attributes carry policy counts as bound for the change
-- notifications of sql/policy_notify.sql.
CREATE FUNCTION scim._policy_group_has_terms(tenant uuid, grp uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM scim.policy_attribute_maps m
                     JOIN scim.groups g ON g.tenant_id = m.tenant_id AND g.id = grp
                    WHERE m.tenant_id = tenant AND (g.resource -> m.urn) ? m.attribute)
$$;

-- Mapping added, changed or removed: the graph, and the users below the
-- groups holding a value of the attribute.
CREATE FUNCTION scim._policy_attribute_maps_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    PERFORM scim._policy_graph_changed(ARRAY(SELECT DISTINCT c.tenant_id FROM changed c));
    FOR r IN
        SELECT c.tenant_id, array_agg(DISTINCT g.id) AS groups
          FROM changed c
          JOIN scim.groups g ON g.tenant_id = c.tenant_id AND (g.resource -> c.urn) ? c.attribute
         GROUP BY c.tenant_id
    LOOP
        PERFORM scim._policy_notify(r.tenant_id, scim._policy_users_below(r.tenant_id, r.groups));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER policy_attribute_maps_insert AFTER INSERT ON scim.policy_attribute_maps
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_attribute_maps_changed();
CREATE TRIGGER policy_attribute_maps_update AFTER UPDATE ON scim.policy_attribute_maps
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_attribute_maps_changed();
CREATE TRIGGER policy_attribute_maps_delete AFTER DELETE ON scim.policy_attribute_maps
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_attribute_maps_changed();

-- A group's mapped attribute changed (PATCH, PUT, schema removal with its
-- data): the graph, and the users below it, as for a binding change.
CREATE FUNCTION scim._policy_group_terms_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT n.tenant_id, array_agg(DISTINCT n.id) AS groups
          FROM new_rows n
          JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
          JOIN scim.policy_attribute_maps m ON m.tenant_id = n.tenant_id
         WHERE (n.resource -> m.urn -> m.attribute) IS DISTINCT FROM (o.resource -> m.urn -> m.attribute)
         GROUP BY n.tenant_id
    LOOP
        PERFORM scim._policy_graph_changed(ARRAY[r.tenant_id]);
        PERFORM scim._policy_notify(r.tenant_id, scim._policy_users_below(r.tenant_id, r.groups));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER groups_policy_terms_update AFTER UPDATE ON scim.groups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_group_terms_updated();

-- A new group with a mapped value: the graph (its members, added after,
-- are notified by the membership trigger, which counts it as bound).
CREATE FUNCTION scim._policy_group_terms_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scim._policy_graph_changed(ARRAY(
        SELECT DISTINCT n.tenant_id FROM new_rows n
          JOIN scim.policy_attribute_maps m ON m.tenant_id = n.tenant_id
         WHERE (n.resource -> m.urn) ? m.attribute));
    RETURN NULL;
END
$$;
CREATE TRIGGER groups_policy_terms_insert AFTER INSERT ON scim.groups
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_group_terms_inserted();
