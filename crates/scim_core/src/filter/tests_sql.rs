//! Shape of the generated SQL for the common IdP lookups, parameter
//! handling, and sort keys. (Semantic agreement with `eval` is checked
//! against a real Postgres by `tests_pg`.)

use super::*;
use crate::error::ScimType;
use crate::schema::{GROUP_TYPE, USER_TYPE};

fn user(f: &str) -> CompiledFilter {
    compile(&USER_TYPE, f, 2).unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn group(f: &str) -> CompiledFilter {
    compile(&GROUP_TYPE, f, 2).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn user_name_lookup_uses_the_fold_index() {
    let c = user(r#"userName eq "BJensen@Example.com""#);
    assert_eq!(
        c.sql,
        "(r.user_name IS NOT NULL AND scim.fold(r.user_name) = $2)"
    );
    // the literal is folded in Rust by the same function as scim.fold()
    assert_eq!(c.params, ["bjensen@example.com"]);
    // Okta/Entra variants: operator and attribute casing, URN prefix
    for f in [
        r#"USERNAME EQ "x""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
    ] {
        assert_eq!(
            user(f).sql,
            "(r.user_name IS NOT NULL AND scim.fold(r.user_name) = $2)"
        );
    }
}

#[test]
fn external_id_and_display_name_lookups() {
    let c = user(r#"externalId eq "abc""#);
    assert_eq!(c.sql, "(r.external_id IS NOT NULL AND r.external_id = $2)");
    assert_eq!(c.params, ["abc"]);
    let c = group(r#"displayName eq "Tour Guides""#);
    assert_eq!(
        c.sql,
        "(r.display_name IS NOT NULL AND scim.fold(r.display_name) = $2)"
    );
    let c = group(r#"externalId eq "g""#);
    assert_eq!(c.sql, "(r.external_id IS NOT NULL AND r.external_id = $2)");
}

#[test]
fn placeholders_start_at_first_param_and_values_never_reach_the_sql() {
    let evil = r#"x'); DROP TABLE scim.users; --"#;
    let f = format!(
        r#"userName eq {0} or title co {0} or emails[type eq {0}] or externalId gt {0}"#,
        serde_json::to_string(evil).unwrap()
    );
    let c = compile(&USER_TYPE, &f, 7).unwrap();
    assert!(!c.sql.contains("DROP"), "{}", c.sql);
    assert!(!c.sql.contains(';'), "{}", c.sql);
    for n in 7..7 + c.params.len() {
        assert!(c.sql.contains(&format!("${n}")), "{}", c.sql);
    }
    assert!(!c.sql.contains("$6") && !c.sql.contains(&format!("${}", 7 + c.params.len())));
    let folded = fold_case(evil);
    assert_eq!(c.params[0], folded);
    assert_eq!(c.params[1], format!("%{folded}%"));
}

#[test]
fn substring_operators_escape_like_wildcards() {
    let c = user(r#"userName co "50%_off\\now""#);
    assert_eq!(
        c.sql,
        "(r.user_name IS NOT NULL AND scim.fold(r.user_name) LIKE $2)"
    );
    assert_eq!(c.params, [r"%50\%\_off\\now%"]);
    assert_eq!(user(r#"userName sw "a_""#).params, [r"a\_%"]);
    assert_eq!(user(r#"userName ew "%""#).params, [r"%\%"]);
    // case-exact: no scim.fold()
    let c = user(r#"externalId sw "A%""#);
    assert_eq!(
        c.sql,
        "(r.external_id IS NOT NULL AND r.external_id LIKE $2)"
    );
    assert_eq!(c.params, [r"A\%%"]);
    assert_eq!(like_pattern("a\\b", CompareOp::Eq), "a\\\\b");
}

#[test]
fn ordering_uses_byte_collation() {
    let c = user(r#"userName gt "m""#);
    assert_eq!(
        c.sql,
        "(r.user_name IS NOT NULL AND (scim.fold(r.user_name) COLLATE \"C\") > $2)"
    );
    let c = user(r#"externalId le "m""#);
    assert_eq!(
        c.sql,
        "(r.external_id IS NOT NULL AND (r.external_id COLLATE \"C\") <= $2)"
    );
    let c = user(r#"title lt "m""#);
    assert!(
        c.sql
            .contains("(scim.fold(r.resource->>'title') COLLATE \"C\") < $2"),
        "{}",
        c.sql
    );
}

#[test]
fn ids_are_cast_only_when_they_are_canonical_uuids() {
    let id = "2819c223-7f76-453a-919d-413861904646";
    let c = user(&format!(r#"id eq "{id}""#));
    assert_eq!(c.sql, "(r.id IS NOT NULL AND r.id = $2::uuid)");
    assert_eq!(c.params, [id]);
    for bad in [
        "not-a-uuid",
        "2819C223-7F76-453A-919D-413861904646",
        "",
        "2819c223",
    ] {
        let c = user(&format!(r#"id eq "{bad}""#));
        assert_eq!(c.sql, "false", "{bad}");
        assert!(c.params.is_empty());
        let c = user(&format!(r#"id ne "{bad}""#));
        assert_eq!(c.sql, "NOT (false)", "{bad}");
    }
    let c = user(r#"id sw "2819""#);
    assert_eq!(c.sql, "(r.id IS NOT NULL AND r.id::text LIKE $2)");
    let c = group(r#"members[value eq "nope"]"#);
    assert!(c.sql.contains("AND false"), "{}", c.sql);
    assert!(!c.sql.contains("::uuid"));
    // groups.value is caseExact=false: an upper-case uuid is folded first
    let c = user(&format!(r#"groups.value eq "{}""#, id.to_uppercase()));
    assert!(c.sql.contains("m.group_id = $2::uuid"), "{}", c.sql);
    assert_eq!(c.params, [id]);
    assert!(is_canonical_uuid(id));
    assert!(!is_canonical_uuid("2819c223-7f76-453a-919d-41386190464g"));
    assert!(!is_canonical_uuid("2819c2237-f76-453a-919d-413861904646"));
}

#[test]
fn emails_use_the_gin_array() {
    let expected_exists = "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(r.resource->'emails') WHEN 'array' THEN r.resource->'emails' END) e WHERE ";
    let c = user(r#"emails.value eq "A@B.com""#);
    assert!(
        c.sql
            .starts_with("(r.email_values IS NOT NULL AND r.email_values @> ARRAY[$3] AND "),
        "{}",
        c.sql
    );
    assert!(c.sql.contains(expected_exists), "{}", c.sql);
    assert!(c.sql.contains("scim.fold(e->>'value') = $2"), "{}", c.sql);
    assert_eq!(c.params, ["a@b.com", "a@b.com"]);
    // `emails eq` means emails.value
    assert_eq!(user(r#"emails eq "A@B.com""#), c);
    // Entra's shape and the bracket form compile identically
    let entra = user(r#"emails[type eq "work"].value eq "x@y.com""#);
    let bracket = user(r#"emails[type eq "work" and value eq "x@y.com"]"#);
    assert_eq!(entra, bracket);
    assert!(
        entra.sql.contains("r.email_values @> ARRAY[$4]"),
        "{}",
        entra.sql
    );
    assert!(entra.sql.contains("jsonb_typeof(e) = 'object'"));
    // no pre-filter when the value is not pinned
    for f in [
        r#"emails.value co "x""#,
        r#"emails[type eq "work" or value eq "x"]"#,
        r#"emails.type eq "work""#,
    ] {
        assert!(!user(f).sql.contains("email_values"), "{f}");
    }
}

#[test]
fn one_exists_per_bracket() {
    let c = user(r#"emails[type eq "work" and value co "@x.com"]"#);
    assert_eq!(c.sql.matches("EXISTS").count(), 1, "{}", c.sql);
    let c = user(r#"emails.type eq "work" and emails.value co "@x.com""#);
    assert_eq!(c.sql.matches("EXISTS").count(), 2, "{}", c.sql);
}

#[test]
fn json_attributes_and_extensions() {
    let c = user(r#"name.familyName eq "Jensen""#);
    assert_eq!(
        c.sql,
        "COALESCE(jsonb_typeof(r.resource->'name'->'familyName') = 'string' AND scim.fold(r.resource->'name'->>'familyName') = $2, false)"
    );
    let c = user(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#);
    assert!(
        c.sql.contains(
            "r.resource->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'department'"
        ),
        "{}",
        c.sql
    );
    let c = user("title pr");
    assert_eq!(
        c.sql,
        "COALESCE(r.resource->'title' NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), false)"
    );
}

#[test]
fn booleans_datetimes_and_meta() {
    let c = user("active eq true");
    assert_eq!(c.sql, "(r.active IS NOT NULL AND r.active = $2::boolean)");
    assert_eq!(c.params, ["true"]);
    let c = user("emails[primary eq true]");
    assert!(
        c.sql
            .contains("COALESCE(e->'primary' = to_jsonb($2::boolean), false)"),
        "{}",
        c.sql
    );
    let c = user(r#"meta.lastModified gt "2011-05-13T06:42:34.5+02:00""#);
    assert_eq!(
        c.sql,
        "(r.last_modified IS NOT NULL AND r.last_modified > $2::timestamptz)"
    );
    assert_eq!(c.params, ["2011-05-13T04:42:34.500Z"]);
    let c = user(r#"meta.created eq "2011-05-13T04:42:34.1234567Z""#);
    assert_eq!(c.params, ["2011-05-13T04:42:34.123456Z"]);
    let c = user(r#"meta.version eq "W/\"3\"""#);
    assert_eq!(
        c.sql,
        "(('W/\"' || r.version || '\"') IS NOT NULL AND ('W/\"' || r.version || '\"') = $2)"
    );
    let c = group(r#"meta.resourceType eq "Group""#);
    assert_eq!(c.sql, "('Group' IS NOT NULL AND 'Group' = $2)");
    assert_eq!(user("meta pr").sql, "true");
}

#[test]
fn membership_goes_through_the_members_table() {
    let id = "2819c223-7f76-453a-919d-413861904646";
    let c = group(&format!(r#"members[value eq "{id}"]"#));
    assert_eq!(
        c.sql,
        "EXISTS (SELECT 1 FROM scim.members m WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id AND (m.member_id IS NOT NULL AND m.member_id = $2::uuid))"
    );
    assert_eq!(group(&format!(r#"members.value eq "{id}""#)), c);
    assert_eq!(group(&format!(r#"members eq "{id}""#)), c);
    let c = group(r#"members.display co "babs""#);
    assert!(c.sql.contains("LEFT JOIN scim.users u"), "{}", c.sql);
    assert!(c.sql.contains(MEMBER_DISPLAY_SQL), "{}", c.sql);
    let c = group(r#"members.type eq "user""#);
    assert!(!c.sql.contains("JOIN"), "{}", c.sql);
    assert!(c.sql.contains("scim.fold(m.member_type) = $2"));
    let c = group("members pr");
    assert_eq!(
        c.sql,
        "EXISTS (SELECT 1 FROM scim.members m WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id AND true)"
    );
    let c = user(&format!(r#"groups.value eq "{id}""#));
    assert!(
        c.sql
            .contains("m.member_id = r.id AND m.member_type = 'User'"),
        "{}",
        c.sql
    );
    let c = user(r#"groups[display eq "Admins"]"#);
    assert!(c.sql.contains("LEFT JOIN scim.groups g"), "{}", c.sql);
}

#[test]
fn not_and_logic_structure() {
    let c = user(r#"not (userName eq "a") and (title pr or nickName pr)"#);
    assert_eq!(
        c.sql,
        "(NOT ((r.user_name IS NOT NULL AND scim.fold(r.user_name) = $2)) AND (COALESCE(r.resource->'title' NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), false) OR COALESCE(r.resource->'nickName' NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), false)))"
    );
    let c = user("title eq null");
    assert!(
        c.sql
            .starts_with("NOT (COALESCE(r.resource->'title' NOT IN"),
        "{}",
        c.sql
    );
}

#[test]
fn sort_keys() {
    let k = |p: &str| compile_sort_key(&USER_TYPE, p).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(k("userName"), "scim.fold(r.user_name) COLLATE \"C\"");
    assert_eq!(k("USERNAME"), "scim.fold(r.user_name) COLLATE \"C\"");
    assert_eq!(k("externalId"), "(r.external_id) COLLATE \"C\"");
    assert_eq!(k("id"), "r.id");
    assert_eq!(k("active"), "r.active");
    assert_eq!(k("meta.created"), "r.created");
    assert_eq!(k("meta.lastModified"), "r.last_modified");
    assert_eq!(
        k("name.familyName"),
        "scim.fold(r.resource->'name'->>'familyName') COLLATE \"C\""
    );
    assert_eq!(
        k("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        "scim.fold(r.resource->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'department') COLLATE \"C\""
    );
    let emails = k("emails");
    assert_eq!(emails, k("emails.value"));
    assert!(emails.contains("ORDER BY (x.e->'primary' = 'true'::jsonb) IS TRUE DESC, x.n LIMIT 1"));
    assert_eq!(
        compile_sort_key(&GROUP_TYPE, "displayName").unwrap(),
        "scim.fold(r.display_name) COLLATE \"C\""
    );
    for bad in [
        "nope",
        "name",
        "password",
        "members",
        "groups.value",
        "meta.location",
        "meta.resourceType",
        "",
    ] {
        let rt = if bad == "members" {
            &GROUP_TYPE
        } else {
            &USER_TYPE
        };
        let e = compile_sort_key(rt, bad).expect_err(bad);
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
    }
}

#[test]
fn pattern_and_range_filters_ask_for_a_per_call_plan() {
    for f in [
        r#"userName eq "x""#,
        r#"active eq true"#,
        r#"name.familyName pr"#,
        r#"externalId eq "x" or emails[value eq "y"]"#,
    ] {
        assert!(!user(f).per_call_plan, "{f}");
    }
    for f in [
        r#"userName sw "x""#,
        r#"displayName co "x""#,
        r#"emails[value ew "@x"]"#,
        r#"meta.lastModified gt "2020-01-01T00:00:00Z""#,
        r#"userName eq "x" and not (title lt "m")"#,
    ] {
        assert!(user(f).per_call_plan, "{f}");
    }
    assert!(group(r#"members[display sw "a"]"#).per_call_plan);
    assert!(!group(r#"members[value eq "a"]"#).per_call_plan);
}

#[test]
fn only_unique_equality_matches_at_most_one() {
    for f in [
        r#"userName eq "x""#,
        r#"USERNAME eq "x""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
        r#"id eq "7d0c6f7a-0000-4000-8000-000000000001""#,
        r#"userName eq "x" and active eq true"#,
        r#"active eq true and (userName eq "x" and title pr)"#,
    ] {
        assert!(user(f).at_most_one, "{f}");
    }
    for f in [
        r#"userName ne "x""#,
        r#"userName sw "x""#,
        r#"userName eq "x" or userName eq "y""#,
        r#"not (userName eq "x")"#,
        r#"externalId eq "x""#,
        r#"displayName eq "x""#,
        r#"emails[value eq "x"]"#,
        r#"emails.value eq "x""#,
        r#"name.givenName eq "x""#,
    ] {
        assert!(!user(f).at_most_one, "{f}");
    }
    // A group's displayName is not unique; its id is.
    assert!(!group(r#"displayName eq "x""#).at_most_one);
    assert!(group(r#"id eq "7d0c6f7a-0000-4000-8000-000000000001""#).at_most_one);
    assert!(!group(r#"members[value eq "a"]"#).at_most_one);
}

#[test]
fn email_lookups_ask_for_a_plan_per_tenant() {
    // The GIN lookup against a walk of the tenant: only the tenant's size
    // decides, which a generic plan does not know.
    for f in [
        r#"emails[value eq "y"]"#,
        r#"emails.value eq "y""#,
        r#"emails[type eq "work" and value eq "y"]"#,
        r#"externalId eq "x" or emails[value eq "y"]"#,
    ] {
        let c = user(f);
        assert!(c.plan_per_tenant && !c.per_call_plan, "{f}");
    }
    for f in [
        r#"userName eq "x""#,
        r#"emails[type eq "work"]"#,
        r#"emails.value co "y""#,
    ] {
        assert!(!user(f).plan_per_tenant, "{f}");
    }
    assert!(!group(r#"members[value eq "a"]"#).plan_per_tenant);
}
