-- Lookups stay selective per tenant in a database of many tenants (issue
-- 15): one large tenant and many small ones, and for each filter shape
-- identity providers send, the index entries scim_list's own statements
-- read (its kept plans as they run, not an EXPLAIN of a look-alike). A GIN
-- index without tenant_id made the planner AND the match with a scan of all
-- the large tenant's rows, and a generic plan of the email lookup walked
-- them (thousands of entries read for one match).
SELECT scim.scim_tenant_create('ti-big') IS NOT NULL AS big;
SELECT count(scim.scim_tenant_create('ti-small-' || k)) AS small FROM generate_series(1, 40) k;
INSERT INTO scim.users (tenant_id, id, user_name, external_id, display_name, active, email_values, resource)
SELECT t.id, md5(t.name || '-' || i)::uuid, u, 'ext-' || i, 'Person ' || (i % 50), true, ARRAY[scim.fold(u)],
       jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                          'userName', u, 'externalId', 'ext-' || i, 'displayName', 'Person ' || (i % 50),
                          'active', true,
                          'emails', jsonb_build_array(jsonb_build_object('value', u, 'type', 'work')))
  FROM scim.tenants t,
       LATERAL generate_series(1, CASE WHEN t.name = 'ti-big' THEN 4000 ELSE 25 END) i,
       LATERAL (SELECT 'u' || i || '@' || t.name || '.example') n(u)
 WHERE t.name LIKE 'ti-%';
INSERT INTO scim.groups (tenant_id, display_name, resource)
SELECT t.id, 'Team ' || k, jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'),
                                             'displayName', 'Team ' || k)
  FROM scim.tenants t, generate_series(1, CASE WHEN t.name = 'ti-big' THEN 400 ELSE 3 END) k
 WHERE t.name LIKE 'ti-%';
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT u.tenant_id, g.id, u.id, 'User'
  FROM scim.users u JOIN scim.groups g ON g.tenant_id = u.tenant_id
   AND g.display_name = 'Team ' || (1 + (substring(u.external_id FROM 5)::int %
                                         CASE WHEN u.user_name LIKE '%@ti-big.example' THEN 400 ELSE 3 END))
 WHERE u.user_name LIKE '%@ti-%';
ANALYZE scim.users, scim.groups, scim.members;

-- Index entries read by one scim_list call, per index of the three tables
-- (this transaction's statistics, before and after).
CREATE FUNCTION index_reads(rt text, f text) RETURNS TABLE (idx text, entries bigint) LANGUAGE plpgsql AS $$
DECLARE before jsonb;
BEGIN
    SELECT jsonb_object_agg(i.indexrelid::regclass::text, pg_stat_get_xact_tuples_returned(i.indexrelid)) INTO before
      FROM pg_index i WHERE i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass, 'scim.members'::regclass);
    PERFORM scim.scim_list(rt, f, 1, 100);
    RETURN QUERY
    SELECT i.indexrelid::regclass::text, pg_stat_get_xact_tuples_returned(i.indexrelid) - (before->>i.indexrelid::regclass::text)::bigint
      FROM pg_index i WHERE i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass, 'scim.members'::regclass)
       AND pg_stat_get_xact_tuples_returned(i.indexrelid) > (before->>i.indexrelid::regclass::text)::bigint;
END
$$;
-- Every shape, in the large tenant and in a small one: the matches found
-- through an index that leads with the tenant, a handful of entries read
-- from secondary indexes (primary keys: the page's rows and the members
-- rendered with a group). In a small tenant the planner may rather read
-- the tenant's few rows: bounded by the tenant, never by the others.
CREATE FUNCTION lookup_cost(tenant text, rt text, f text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE total bigint; hits bigint; via text; own bigint;
BEGIN
    PERFORM set_config('scim.tenant', tenant, true);
    PERFORM scim.scim_list(rt, f, 1, 100);   -- plans made and kept
    hits := (scim.scim_list(rt, f, 1, 100)->>'totalResults')::bigint;
    SELECT coalesce(sum(entries) FILTER (WHERE idx NOT LIKE '%\_pkey'), 0), string_agg(idx, ', ' ORDER BY idx)
      INTO total, via FROM index_reads(rt, f);
    SELECT count(*) INTO own FROM scim.users u JOIN scim.tenants t ON t.id = u.tenant_id WHERE t.name = tenant;
    RETURN format('%s match(es); %s index entries read (%s)', hits,
                  CASE WHEN total <= 20 THEN 'few'
                       WHEN own < 100 AND total <= 2 * own + 20 THEN 'at most the small tenant''s'
                       ELSE total::text END,
                  CASE WHEN total <= 20 THEN via ELSE 'a scan of the tenant' END);
END
$$;
SELECT t AS tenant, rt, f AS filter, lookup_cost(t, rt, f)
  FROM unnest(ARRAY['ti-big', 'ti-small-7']) t,
       LATERAL (VALUES ('User', format('userName eq "U17@%s.EXAMPLE"', upper(t COLLATE "C"))),
                       ('User', 'externalId eq "ext-17"'),
                       ('User', format('emails[type eq "work" and value eq "U17@%s.EXAMPLE"]', upper(t COLLATE "C"))),
                       ('User', format('emails[value eq "u17@%s.example"]', t)),
                       ('User', format('emails.value eq "u17@%s.example"', t)),
                       ('Group', 'displayName eq "team 3"'),
                       ('Group', format('members[value eq "%s"]', md5(t || '-17')::uuid)),
                       ('Group', format('members.value eq "%s"', md5(t || '-17')::uuid))) v(rt, f)
 ORDER BY t, rt, f;
RESET scim.tenant;

-- The indexes themselves: every GIN index leads with tenant_id.
SELECT indexrelid::regclass AS gin_index, pg_get_indexdef(indexrelid, 1, true) AS first_column
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
 WHERE a.amname = 'gin' AND i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass)
 ORDER BY indexrelid::regclass::text;

DROP FUNCTION lookup_cost(text, text, text);
DROP FUNCTION index_reads(text, text);
DELETE FROM scim.tenants WHERE name LIKE 'ti-%';
