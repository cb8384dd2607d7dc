-- caseExact=false means Unicode caseless matching (scim.fold: NFC of the
-- full case folding of NFD), the same in every database locale: this file's
-- expected output is the same in a C, a C.UTF-8 and an ICU tr-TR database
-- (scripts/test runs the suite in each).
SELECT scim.scim_tenant_create('unicode') IS NOT NULL AS created;
SET scim.tenant = 'unicode';

-- The key itself (U&'' escapes: the combining marks stay visible).
SELECT s AS input, scim.fold(s) AS key, scim.fold(s) = scim.fold(scim.fold(s)) AS idempotent
  FROM unnest(ARRAY['Ärger', 'ÄRGER', 'Straße', 'STRASSE', 'STRAẞE', 'ΟΔΟΣ', 'οδος', 'Σίσυφος',
                    'ALICE', 'İstanbul', 'ISTANBUL', 'ıi', 'ПРИВЕТ', 'Ёж', U&'e\0301cole', 'ÉCOLE',
                    'ﬁle', '🎉Party', 'Ꭰꭰ', 'Ａ', '']) WITH ORDINALITY AS t(s, n)
 ORDER BY n;
SELECT scim.fold(NULL) IS NULL AS strict;
SELECT provolatile, proisstrict, proparallel FROM pg_proc WHERE oid = 'scim.fold(text)'::regprocedure;

-- Uniqueness: every case variant of a userName is the same userName (409),
-- whatever the locale would say; NFC and NFD spellings are one name.
SELECT scim.scim_create_user('{"userName": "Ärger@x.example"}')->>'userName' AS first;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "ärger@x.example"}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "ÄRGER@X.EXAMPLE"}') $$);
SELECT try($$ SELECT scim.scim_create_user(jsonb_build_object('userName', U&'A\0308rger@x.example')) $$);
SELECT scim.scim_create_user('{"userName": "Straße"}')->>'userName' AS first;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "STRASSE"}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "strasse"}') $$);
SELECT scim.scim_create_user('{"userName": "ΟΔΟΣ"}')->>'userName' AS first;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "οδος"}') $$);
SELECT try($$ SELECT scim.scim_create_user('{"userName": "οδοσ"}') $$);
SELECT scim.scim_create_user('{"userName": "ПРИВЕТ"}')->>'userName' AS first;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "привет"}') $$);
SELECT scim.scim_create_user('{"userName": "🎉Party"}')->>'userName' AS first;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "🎉PARTY"}') $$);
-- I folds to i in every locale (no Turkic tailoring): ALICE is alice even
-- where lower('I') is 'ı'; dotted İ and dotless ı are other letters.
SELECT scim.scim_create_user('{"userName": "ALICE"}')->>'userName' AS first;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "alice"}') $$);
SELECT scim.scim_create_user('{"userName": "alıce"}')->>'userName' AS distinct_dotless;
SELECT scim.scim_create_user('{"userName": "İstanbul"}')->>'userName' AS first;
SELECT scim.scim_create_user('{"userName": "istanbul"}')->>'userName' AS distinct_plain_i;
SELECT try($$ SELECT scim.scim_create_user('{"userName": "i̇stanbul"}') $$);
-- Not case: a different letter or a compatibility form is another name.
SELECT scim.scim_create_user('{"userName": "Arger@x.example"}')->>'userName' AS distinct_no_umlaut;
SELECT scim.scim_create_user('{"userName": "ＡＬＩＣＥ"}')->>'userName' AS distinct_fullwidth;
-- Stored as sent (the key is only for matching).
SELECT user_name FROM scim.users WHERE tenant_id = scim.current_tenant() ORDER BY user_name COLLATE "C";
-- Renames and PATCH onto a case variant of another name: 409 too.
SELECT try(format($$ SELECT scim.scim_replace('User', %L, '{"userName": "STRAẞE"}') $$, uid('alice')));
SELECT try(format($$ SELECT scim.scim_patch('User', %L, '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "userName", "value": "ärger@X.example"}]}') $$, uid('alice')));
-- Group displayName likewise.
SELECT scim.scim_create_group('{"displayName": "Größe"}')->>'displayName' AS first;
SELECT try($$ SELECT scim.scim_create_group('{"displayName": "GRÖSSE"}') $$);

-- Filters: the SQL path (scim_list) and the in-memory one (scim_matches)
-- agree on every filter, and match the case variants.
SELECT scim.scim_create_user(jsonb_build_object('userName', 'e1', 'displayName', U&'E\0301mile Zola',
         'title', 'Übersetzer', 'emails', jsonb_build_array(jsonb_build_object('value', 'Émile@Straße.example', 'type', 'work')))) IS NOT NULL AS e1;
SELECT scim.scim_create_user(jsonb_build_object('userName', 'e2', 'displayName', 'ÉMILE ΣΊΣΥΦΟΣ',
         'title', 'ÜBERSETZER', 'emails', jsonb_build_array(jsonb_build_object('value', 'emile@strasse.example', 'type', 'home')))) IS NOT NULL AS e2;
SELECT f AS filter,
       (scim.scim_list('User', f, 1, 100))->'totalResults' AS listed,
       (SELECT count(*) FROM scim.users u WHERE u.tenant_id = scim.current_tenant()
           AND scim.scim_matches(scim.scim_get('User', u.id::text), f)) AS matched
  FROM unnest(ARRAY[
    'userName eq "ärger@x.example"',
    'userName eq "ÄRGER@X.EXAMPLE"',
    'userName eq "STRASSE"',
    'userName eq "straẞe"',
    'userName eq "οδοσ"',
    'userName sw "ΟΔ"',
    'userName ew "ος"',
    'userName co "ИВЕ"',
    'userName eq "🎉party"',
    'userName eq "istanbul"',
    'userName eq "İSTANBUL"',
    'userName co "i"',
    'userName gt "z"',
    'userName lt "a"',
    'displayName sw "émile"',
    'displayName co "σίσυφος"',
    'displayName co "e"',
    'title eq "übersetzer"',
    'title ne "übersetzer"',
    'emails.value eq "ÉMILE@STRASSE.EXAMPLE"',
    'emails[type eq "work" and value ew "straße.example"]',
    'not (userName co "ß") and userName co "s"'
  ]) WITH ORDINALITY AS t(f, n)
 ORDER BY n;
-- Sorting by a case-insensitive attribute sorts by the key's bytes.
SELECT array_agg(u->>'userName' ORDER BY ord) AS sorted
  FROM scim.scim_list('User', 'userName sw "e" or userName sw "st" or userName sw "ÄR"', 1, 20, 'userName') r,
       jsonb_array_elements(r->'Resources') WITH ORDINALITY AS x(u, ord);
-- PATCH value filters use the same key.
SELECT jsonb_array_length(scim.scim_patch('User', uid('e1'), '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations": [{"op": "remove", "path": "emails[value eq \"émile@STRASSE.example\"]"}]}')->'emails') IS NULL AS email_removed;
-- email_values holds the keys.
SELECT email_values FROM scim.users WHERE tenant_id = scim.current_tenant() AND user_name = 'e2';

-- The lookups can use the scim.fold indexes (the literal reaches them
-- folded): the plan of a count over scim_filter_sql's condition, without
-- the tenant (whose primary key scan wins on a table this small), with
-- only bitmap scans allowed: they need an index that matches the filter.
CREATE FUNCTION plan_of(f text, rt text = 'User') RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := ''; tbl text := CASE rt WHEN 'User' THEN 'users' ELSE 'groups' END;
BEGIN
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT count(*) FROM scim.%I r WHERE %s', tbl,
                               substring(scim.scim_filter_sql(f, rt)
                                         FROM ' FROM scim\.[a-z]+ r WHERE r\.tenant_id = E?''[^'']*'' AND (.*) ORDER BY r\.id$')) LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET enable_seqscan = off;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SELECT plan_of('userName eq "ÄRGER@X.EXAMPLE"') ~ 'users_user_name_ci' AS username_index,
       plan_of('userName eq "ÄRGER@X.EXAMPLE"') LIKE '%ärger@x.example%' AS literal_folded,
       plan_of('displayName sw "ÉMILE"') ~ 'users_display_name_(trgm|ci)' AS display_name_index,
       plan_of('userName co "RGER"') ~ 'users_user_name_trgm' AS trigram_index,
       plan_of('emails.value eq "Émile@Straße.example"') ~ 'users_email_values' AS email_index,
       plan_of('displayName eq "GRÖSSE"', 'Group') ~ 'groups_display_name_ci' AS group_index;
RESET enable_seqscan;
RESET enable_indexscan;
RESET enable_indexonlyscan;
DROP FUNCTION plan_of(text, text);

-- Existing data under another folding (a 0.1.0 database indexed lower();
-- here lower() in C, the same in every database): the collisions the new
-- rule reveals are listed, the rebuild refuses with a message naming them,
-- and nothing is merged.
DROP INDEX scim.users_user_name_ci;
CREATE UNIQUE INDEX users_user_name_ci ON scim.users (tenant_id, lower(user_name COLLATE "C"));
SELECT scim.scim_create_user('{"userName": "STRASSE"}')->>'userName' AS admitted_by_lower;
SELECT tenant, resource_type, attribute, fold_key, names FROM scim.scim_fold_duplicates();
DO $$
BEGIN
    PERFORM scim.scim_fold_rebuild();
EXCEPTION WHEN unique_violation THEN
    DECLARE m text; d text; h text;
    BEGIN
        GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
        RAISE NOTICE E'%\nDETAIL: %\nHINT: %', m,
            regexp_replace(d, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'), h;
    END;
END
$$;
SELECT indexdef LIKE '%lower(%' AS old_index_kept FROM pg_indexes WHERE indexname = 'users_user_name_ci';
-- Resolved by the operator (here: delete one), the rebuild goes through.
SELECT scim.scim_delete('User', (SELECT id::text FROM scim.users WHERE tenant_id = scim.current_tenant() AND user_name = 'STRASSE'));
SELECT count(*) AS collisions FROM scim.scim_fold_duplicates();
SELECT scim.scim_fold_rebuild() AS indexes_built;
SELECT indexdef LIKE '%scim.fold(user_name)%' AS fold_index,
       obj_description('scim.users_user_name_ci'::regclass, 'pg_class') = 'scim.fold ' || scim.scim_fold_version() AS version_recorded
  FROM pg_indexes WHERE indexname = 'users_user_name_ci';
SELECT try($$ SELECT scim.scim_create_user('{"userName": "STRASSE"}') $$);
-- email_values written under another folding are recomputed.
UPDATE scim.users SET email_values = ARRAY['stale'] WHERE tenant_id = scim.current_tenant() AND user_name = 'e2';
SELECT scim.scim_fold_rebuild() AS indexes_built;
SELECT email_values FROM scim.users WHERE tenant_id = scim.current_tenant() AND user_name = 'e2';
RESET scim.tenant;
