-- JSON representation helper. The row → JSON expressions live in
-- src/store/render.rs and are spliced into each statement (one kept plan);
-- this small SQL function is inlined into them. It is the one SQL function
-- WITHOUT a pinned search_path (a SET clause stops the planner from
-- inlining a SQL function): instead every function, operator and type in
-- it is schema-qualified, so no object in the caller's search_path can
-- stand in for one (tests/pg_regress 09_security).
-- STABLE (to_char is), so the planner can inline it.
CREATE FUNCTION scim._ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.to_char(pg_catalog.timezone('UTC'::pg_catalog.text, t), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::pg_catalog.text)
$$;
