-- A cursor walk counts totalResults once, on its first page, and carries
-- it in every nextCursor (issue 15: recounting the whole match set on each
-- page made a full export quadratic). RFC 9865 §2: totalResults SHOULD be
-- accurate, and MAY be omitted by a provider unable to estimate it.
SELECT scim.scim_tenant_create('walk') IS NOT NULL AS created;
SET scim.tenant = 'walk';
SELECT count(scim.scim_create_user(jsonb_build_object('userName', 'w' || i, 'displayName', 'Walker ' || i)))
  FROM generate_series(1, 40) i;

-- Index entries read by one scim_list call (this transaction's statistics).
CREATE FUNCTION walk_reads(f text, c text, sort text = NULL) RETURNS TABLE (page jsonb, entries bigint) LANGUAGE plpgsql AS $$
DECLARE before bigint; after bigint;
BEGIN
    SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) INTO before FROM pg_index WHERE indrelid = 'scim.users'::regclass;
    page := scim.scim_list('User', f, 1, 5, sort, cursor => c);
    SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) INTO after FROM pg_index WHERE indrelid = 'scim.users'::regclass;
    entries := after - before;
    RETURN NEXT;
END
$$;

-- Every user once, the same totalResults on every page, and the most
-- index entries a page after the first read.
CREATE FUNCTION walk(f text, sort text = NULL) RETURNS TABLE (pages bigint, users bigint, distinct_users bigint,
                                                              totals text, later_page_entries bigint)
LANGUAGE sql AS $$
    WITH RECURSIVE w(n, cursor, ids, total, entries) AS (
        SELECT 1, r.page->>'nextCursor', ARRAY(SELECT x->>'id' FROM jsonb_array_elements(r.page->'Resources') x),
               r.page->>'totalResults', r.entries
          FROM walk_reads(f, '', sort) r
        UNION ALL
        SELECT w.n + 1, r.page->>'nextCursor', ARRAY(SELECT x->>'id' FROM jsonb_array_elements(r.page->'Resources') x),
               r.page->>'totalResults', r.entries
          FROM w, walk_reads(f, w.cursor, sort) r
         WHERE w.cursor IS NOT NULL)
    SELECT count(*), sum(cardinality(ids)), (SELECT count(DISTINCT i) FROM w w2, unnest(w2.ids) i),
           string_agg(DISTINCT total, ','), max(entries) FILTER (WHERE n > 1)
      FROM w
$$;
-- Unfiltered (a full export): a later page reads its 5 rows and the one
-- it starts after, never the 40 of a count.
SELECT pages, users, distinct_users, totals, later_page_entries <= 12 AS later_pages_read_only_their_rows FROM walk(NULL);
SELECT pages, users, distinct_users, totals FROM walk('displayName sw "walker 1"');
SELECT pages, users, distinct_users, totals FROM walk('userName sw "w1"', 'userName');

-- The carried total is the walk's: after a user is created mid-walk,
-- totalResults stays what the walk started with (the new user is in the
-- pages still to come when its random id sorts after the cursor).
SELECT scim.scim_list('User', NULL, 1, 20, cursor => '')->>'nextCursor' AS c \gset
SELECT scim.scim_create_user('{"userName": "zz-late", "displayName": "Late"}') IS NOT NULL AS created_mid_walk;
SELECT r->>'totalResults' AS total, jsonb_array_length(r->'Resources') BETWEEN 20 AND 21 AS rest
  FROM scim.scim_list('User', NULL, 1, 100, cursor => :'c') r;
-- A cursor without a total (issued before) is still honoured: it counts.
SELECT r->>'totalResults' AS total, jsonb_array_length(r->'Resources') AS rest
  FROM scim.scim_list('User', NULL, 1, 100,
                      cursor => rtrim(translate(encode(convert_to(jsonb_build_object('after', '00000000-0000-0000-0000-000000000000')::text, 'UTF8'), 'base64'), E'+/\n', '-_'), '=')) r;
-- A total that is not a count is not a cursor this server issued.
SELECT try(format($$ SELECT scim.scim_list('User', NULL, 1, 5, cursor => %L) $$,
                  rtrim(translate(encode(convert_to(jsonb_build_object('after', '00000000-0000-0000-0000-000000000000', 'total', t)::text, 'UTF8'), 'base64'), E'+/\n', '-_'), '=')))
  FROM (VALUES ('-1'::jsonb), ('"12"'), ('1.5')) v(t);

DROP FUNCTION walk(text, text);
DROP FUNCTION walk_reads(text, text, text);
RESET scim.tenant;
DELETE FROM scim.tenants WHERE name = 'walk';
