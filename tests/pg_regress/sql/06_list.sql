-- scim_list / scim_filter: paging, sorting, cursors, projection, errors.
SET scim.tenant = 'listing';
SELECT scim.scim_tenant_create('listing') IS NOT NULL AS created;
-- 12 users; titles missing on some (sorting with missing values).
SELECT count(scim.scim_create_user(jsonb_build_object(
         'userName', format('list%s', lpad(i::text, 2, '0')),
         'displayName', CASE WHEN i % 3 = 0 THEN NULL ELSE 'Person ' || (13 - i) END,
         'title', CASE WHEN i % 4 = 0 THEN NULL ELSE 'T' || (i % 5) END,
         'active', i % 2 = 0,
         'emails', jsonb_build_array(jsonb_build_object('value', format('List%s@Example.com', i), 'type', CASE WHEN i % 2 = 0 THEN 'work' ELSE 'home' END)))))
  FROM generate_series(1, 12) i;

-- totalResults is over the whole match set, before paging.
SELECT r->'totalResults' AS total, r->'startIndex' AS start, r->'itemsPerPage' AS per_page
  FROM scim.scim_list('User', 'userName sw "list"', 11, 5) r;
-- count=0: totalResults only. Negative count is 0; startIndex < 1 is 1.
SELECT r->'totalResults' AS total, jsonb_array_length(r->'Resources') AS n FROM scim.scim_list('User', NULL, 1, 0) r;
SELECT r->'totalResults' AS total, jsonb_array_length(r->'Resources') AS n FROM scim.scim_list('User', NULL, 1, -5) r;
SELECT r->'startIndex' AS start, jsonb_array_length(r->'Resources') AS n FROM scim.scim_list('User', NULL, -3, 2) r;
-- Beyond the end: empty page, right total.
SELECT r->'totalResults' AS total, jsonb_array_length(r->'Resources') AS n FROM scim.scim_list('User', NULL, 50, 10) r;

-- A filter that matches at most one user (userName eq, id eq, alone or in
-- an `and`) reads its page by the unique index and takes the total from
-- its first page; later pages, count=0 and cursors still get it right.
SELECT f, s, c, r->'totalResults' AS total, r->'itemsPerPage' AS per_page,
       ARRAY(SELECT u->>'userName' FROM jsonb_array_elements(r->'Resources') u ORDER BY 1) AS names
  FROM (VALUES ('userName eq "LIST03"', 1, 1), ('userName eq "list03"', 2, 1),
               ('userName eq "list03"', 1, 0), ('userName eq "nobody"', 1, 1),
               ('userName eq "list04" and active eq true', 1, 1),
               ('userName eq "list04" and active eq false', 1, 1),
               ('userName eq "list03" or userName eq "list04"', 1, 5)) v(f, s, c),
       scim.scim_list('User', f, s, c) r;
SELECT r->'totalResults' AS total, jsonb_array_length(r->'Resources') AS n
  FROM scim.scim_list('User', 'userName eq "list05"', 1, 1) one,
       scim.scim_list('User', format('id eq "%s"', one->'Resources'->0->>'id'), 1, 1) r;
SELECT r->'totalResults' AS total, r ? 'nextCursor' AS more, jsonb_array_length(r->'Resources') AS n
  FROM scim.scim_list('User', 'userName eq "list06"', 1, 1, cursor => '') r;

-- Paging by startIndex covers every user exactly once, in a stable order.
SELECT count(DISTINCT u->>'id') AS distinct_ids, count(*) AS seen
  FROM generate_series(1, 12, 5) s, scim.scim_list('User', NULL, s, 5) r, jsonb_array_elements(r->'Resources') u;

-- sortBy with missing values (NULLS LAST), ties broken by id; descending.
SELECT array_agg(coalesce(u->>'title', '-') ORDER BY ord) AS titles
  FROM scim.scim_list('User', NULL, 1, 20, 'title') r, jsonb_array_elements(r->'Resources') WITH ORDINALITY AS x(u, ord);
SELECT array_agg(u->>'displayName' ORDER BY ord) FILTER (WHERE ord <= 3) AS top3_desc
  FROM scim.scim_list('User', 'displayName pr', 1, 20, 'displayName', 'descending') r,
       jsonb_array_elements(r->'Resources') WITH ORDINALITY AS x(u, ord);
SELECT array_agg(u->>'userName' ORDER BY ord) AS by_email
  FROM scim.scim_list('User', 'userName lt "list04"', 1, 20, 'emails', 'ascending') r,
       jsonb_array_elements(r->'Resources') WITH ORDINALITY AS x(u, ord);
SELECT try($$ SELECT scim.scim_list('User', NULL, 1, 5, 'bogus') $$);
SELECT try($$ SELECT scim.scim_list('User', NULL, 1, 5, 'userName', 'sideways') $$);

-- RFC 9865 cursors: first page with cursor '', then nextCursor until done.
WITH RECURSIVE pages(n, cursor, ids) AS (
    SELECT 1, r->>'nextCursor', (SELECT array_agg(u->>'userName') FROM jsonb_array_elements(r->'Resources') u)
      FROM scim.scim_list('User', NULL, 1, 5, cursor => '') r
    UNION ALL
    SELECT p.n + 1, r->>'nextCursor', (SELECT array_agg(u->>'userName') FROM jsonb_array_elements(r->'Resources') u)
      FROM pages p, scim.scim_list('User', NULL, 1, 5, cursor => p.cursor) r
     WHERE p.cursor IS NOT NULL
)
SELECT count(*) AS pages, sum(cardinality(ids)) AS users, count(cursor) AS cursors FROM pages;
-- With sortBy the cursor carries the position too.
SELECT (scim.scim_list('User', NULL, 1, 5, 'userName', cursor => (scim.scim_list('User', NULL, 1, 5, 'userName', cursor => ''))->>'nextCursor'))->'Resources'->0->>'userName' AS second_page_first;
SELECT try($$ SELECT scim.scim_list('User', NULL, 1, 5, cursor => 'garbage') $$);

-- A listed resource is exactly what a GET of it returns (the list renders
-- pages in SQL; GET projects in Rust): users, and groups without members.
SELECT count(*) AS users_compared, bool_and(u = scim.scim_get('User', u->>'id')) AS same
  FROM scim.scim_list('User', NULL, 1, 100) r, jsonb_array_elements(r->'Resources') u;
SELECT count(*) AS users_compared, bool_and(u = scim.scim_get('User', u->>'id')) AS same
  FROM scim.scim_list('User', 'userName sw "LIST"', 1, 100, 'displayName', 'descending') r, jsonb_array_elements(r->'Resources') u;
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'list-group-' || i,
         'members', (SELECT jsonb_agg(jsonb_build_object('value', u->>'id'))
                       FROM scim.scim_list('User', NULL, i, 3) r, jsonb_array_elements(r->'Resources') u))) IS NOT NULL AS group_created
  FROM generate_series(1, 2) i;
SELECT count(*) AS groups_compared,
       bool_and(g = scim.scim_get('Group', g->>'id', excluded_attributes => 'members')) AS same_without_members,
       bool_and(NOT g ? 'members') AS no_members
  FROM scim.scim_list('Group', NULL, 1, 100, excluded_attributes => 'members') r, jsonb_array_elements(r->'Resources') g;
SELECT count(*) AS groups_compared, bool_and(g = scim.scim_get('Group', g->>'id')) AS same_with_members
  FROM scim.scim_list('Group', NULL, 1, 100) r, jsonb_array_elements(r->'Resources') g;
SELECT count(scim.scim_delete('Group', g->>'id')) AS groups_deleted
  FROM scim.scim_list('Group', 'displayName sw "list-group-"', 1, 100) r, jsonb_array_elements(r->'Resources') g;
-- totalResults from a pattern filter (counted in the page statement) on a
-- full page, a partial page and a page past the end, against scim_filter.
SELECT s, c, (r->>'totalResults')::int = (SELECT count(*) FROM scim.scim_filter('userName co "ist"')) AS total_ok,
       jsonb_array_length(r->'Resources') AS n, r->'itemsPerPage' AS per_page
  FROM (VALUES (1, 5), (11, 5), (40, 5), (1, 0)) v(s, c), scim.scim_list('User', 'userName co "ist"', s, c) r;
SELECT r->'totalResults' AS total, jsonb_array_length(r->'Resources') AS n
  FROM scim.scim_list('User', 'userName sw "nobody"', 1, 5) r;

-- Cursor pages of a filtered list (keyset, and offset with sortBy descending):
-- every match exactly once, the same totalResults on every page.
WITH RECURSIVE pages(n, cursor, ids, total) AS (
    SELECT 1, r->>'nextCursor', (SELECT array_agg(u->>'userName') FROM jsonb_array_elements(r->'Resources') u), r->>'totalResults'
      FROM scim.scim_list('User', 'userName co "ist"', 1, 5, cursor => '') r
    UNION ALL
    SELECT p.n + 1, r->>'nextCursor', (SELECT array_agg(u->>'userName') FROM jsonb_array_elements(r->'Resources') u), r->>'totalResults'
      FROM pages p, scim.scim_list('User', 'userName co "ist"', 1, 5, cursor => p.cursor) r
     WHERE p.cursor IS NOT NULL)
SELECT (SELECT count(*) FROM pages) AS pages, (SELECT count(*) FROM pages, unnest(ids)) AS users,
       (SELECT count(DISTINCT u) FROM pages, unnest(ids) u) AS distinct_users,
       (SELECT count(DISTINCT total) FROM pages) AS totals, (SELECT min(total) FROM pages) AS total;
WITH RECURSIVE pages(n, cursor, ids, total) AS (
    SELECT 1, r->>'nextCursor', (SELECT array_agg(u->>'userName') FROM jsonb_array_elements(r->'Resources') u), r->>'totalResults'
      FROM scim.scim_list('User', 'userName co "ist"', 1, 5, 'userName', 'descending', cursor => '') r
    UNION ALL
    SELECT p.n + 1, r->>'nextCursor', (SELECT array_agg(u->>'userName') FROM jsonb_array_elements(r->'Resources') u), r->>'totalResults'
      FROM pages p, scim.scim_list('User', 'userName co "ist"', 1, 5, 'userName', 'descending', cursor => p.cursor) r
     WHERE p.cursor IS NOT NULL)
SELECT count(*) AS pages, array_agg(ids[1] ORDER BY n) AS first_of_each_page, count(DISTINCT total) AS totals FROM pages;

-- attributes / excludedAttributes apply to every resource.
SELECT DISTINCT jsonb_object_keys(u) AS key
  FROM scim.scim_list('User', NULL, 1, 3, attributes => 'userName') r, jsonb_array_elements(r->'Resources') u ORDER BY 1;

-- Operators and case rules through SQL (unit tests in scim_core cover the grammar).
SELECT f, (SELECT count(*) FROM scim.scim_filter(f)) AS n
  FROM unnest(ARRAY[
    'userName eq "LIST01"',
    'USERNAME Eq "list01"',
    'emails.value eq "list2@example.com"',
    'emails[type eq "work" and value co "EXAMPLE"]',
    'emails[type eq "work"].value eq "LIST4@example.com"',
    'displayName co "person 1"',
    'title ew "3" or title eq "T1"',
    'not (active eq true) and title pr',
    'title pr and (userName sw "list1" or userName ew "2")',
    'externalId pr',
    'title eq null',
    'meta.created gt "2000-01-01T00:00:00Z"',
    'meta.lastModified lt "2000-01-01T00:00:00+01:00"',
    'userName co "%"',
    'userName co "_"',
    'id eq "not-a-uuid"'
  ]) AS f;

-- Malformed or unknown: always 400 invalidFilter, never everything.
SELECT f, try(format('SELECT count(*) FROM scim.scim_filter(%L)', f)) AS result
  FROM unnest(ARRAY[
    'userName eq', 'userName', 'eq "x"', 'userName eq "x" and', 'userName eq "x" or or title pr',
    '(userName eq "x"', 'userName eq "x")', 'emails[type eq "work"', 'emails[type eq "work"]]',
    'emails[value eq "x"[type eq "y"]]', 'nickname2 eq "x"', 'name.nope eq "x"', 'urn:x:y:userName eq "x"',
    'active eq "yes"', 'userName eq 1', 'userName gt true', 'active gt true', 'meta.created gt "yesterday"',
    'userName zz "x"', 'userName eq "unterminated', 'userName eq ''single''', 'not userName eq "x"',
    'userName eq "x" garbage', '', '   ', 'password eq "x"', 'userName eq "\q"', 'and', 'userName pr pr',
    'emails[] eq "x"', 'name eq "x"', 'userName eq "x" and (title pr'
  ]) AS f;

-- Groups filter too.
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'Listers', 'externalId', 'ext-listers',
       'members', (SELECT jsonb_agg(jsonb_build_object('value', id::text)) FROM scim.users WHERE tenant_id = scim.current_tenant() AND user_name IN ('list01', 'list02'))))->>'displayName' AS g;
SELECT (SELECT count(*) FROM scim.scim_filter('displayName eq "LISTERS"', 'Group')) AS by_name,
       (SELECT count(*) FROM scim.scim_filter('externalId eq "ext-listers"', 'Group')) AS by_external_id,
       (SELECT count(*) FROM scim.scim_filter(format('members[value eq "%s"]', uid('list01')), 'Group')) AS by_member,
       (SELECT count(*) FROM scim.scim_filter('members.display eq "Person 12"', 'Group')) AS by_member_display,
       (SELECT count(*) FROM scim.scim_filter(format('groups.value eq "%s"', gid('Listers')))) AS users_in_group;

-- Every listed user is exactly what scim_get renders, with and without
-- groups, on each page statement (filtered first page, unfiltered page,
-- cursor page, sorted page).
SELECT scim.scim_create_group(jsonb_build_object('displayName', 'Listers B',
       'members', (SELECT jsonb_agg(jsonb_build_object('value', id::text)) FROM scim.users WHERE tenant_id = scim.current_tenant() AND user_name IN ('list02', 'list03'))))->>'displayName' AS g2;
SELECT l.name, count(*) AS users, count(*) FILTER (WHERE x ? 'groups') AS with_groups,
       max(jsonb_array_length(x->'groups')) AS most_groups, bool_and(x = scim.scim_get('User', x->>'id')) AS same_as_get
  FROM (VALUES ('filtered', scim.scim_list('User', 'userName sw "list0"', 1, 100)),
               ('unfiltered', scim.scim_list('User', NULL, 1, 100)),
               ('cursor', scim.scim_list('User', NULL, 1, 100, NULL, NULL, NULL, NULL, '')),
               ('sorted', scim.scim_list('User', 'userName sw "list"', 1, 100, 'displayName', 'descending'))) AS l(name, page),
       jsonb_array_elements(l.page->'Resources') x
 GROUP BY l.name ORDER BY l.name;

-- The generated SQL binds values; the statement for EXPLAIN inlines them quoted.
SELECT scim.scim_filter_sql('userName eq "o''brien"') LIKE '%scim.fold(r.user_name) = %''o''''brien''%' AS quoted;
SELECT scim.scim_filter_sql('userName eq "$1"') LIKE '%''$1''%' AS not_resubstituted;
RESET scim.tenant;
