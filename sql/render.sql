-- JSON representation helpers. The row → JSON expressions live in
-- src/store/render.rs and are spliced into each statement (one kept plan);
-- these small SQL functions are inlined or called once per group read.
-- They are the two functions WITHOUT a pinned search_path (a SET clause
-- stops the planner from inlining a SQL function): instead every function,
-- operator and type in them is schema-qualified, so no object in the
-- caller's search_path can stand in for one (tests/pg_regress 09_security).
-- STABLE (to_char is), so the planner can inline it.
CREATE FUNCTION scim._ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.to_char(pg_catalog.timezone('UTC'::pg_catalog.text, t), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::pg_catalog.text)
$$;

CREATE FUNCTION scim._group_members(tenant uuid, group_id uuid) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'value'::pg_catalog.text, m.member_id::pg_catalog.text,
               'type'::pg_catalog.text, m.member_type,
               'display'::pg_catalog.text, coalesce(u.display_name, u.user_name, g.display_name),
               '$ref'::pg_catalog.text,
               CASE WHEN m.member_type OPERATOR(pg_catalog.=) 'User'::pg_catalog.text
                    THEN '/Users/'::pg_catalog.text ELSE '/Groups/'::pg_catalog.text END
                   OPERATOR(pg_catalog.||) m.member_id::pg_catalog.text)
           ORDER BY m.member_id)
      FROM scim.members m
      LEFT JOIN scim.users u ON m.member_type OPERATOR(pg_catalog.=) 'User'::pg_catalog.text
                            AND u.tenant_id OPERATOR(pg_catalog.=) m.tenant_id AND u.id OPERATOR(pg_catalog.=) m.member_id
      LEFT JOIN scim.groups g ON m.member_type OPERATOR(pg_catalog.=) 'Group'::pg_catalog.text
                             AND g.tenant_id OPERATOR(pg_catalog.=) m.tenant_id AND g.id OPERATOR(pg_catalog.=) m.member_id
     WHERE m.tenant_id OPERATOR(pg_catalog.=) _group_members.tenant
       AND m.group_id OPERATOR(pg_catalog.=) _group_members.group_id
$$;
