//! Binding and in-memory evaluation: schema resolution, type rules, case
//! rules, missing attributes, multi-valued and value-path semantics.

use super::*;
use crate::error::ScimType;
use crate::schema::{AttrType, GROUP_TYPE, USER_TYPE};
use serde_json::{json, Value};

fn bjensen() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-BJensen",
        "userName": "BJensen@Example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara", "middleName": ""},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "addresses": [{"type": "work", "locality": "Hollywood"}],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
        "x509Certificates": [{"value": "MIIDQzCCAqy"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34.123456Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        }
    })
}

fn group() -> Value {
    json!({
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "externalId": "g-1",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "type": "User", "display": "Babs Jensen",
             "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "type": "Group", "display": "Managers"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2010-01-23T04:56:22Z", "version": "W/\"1\""}
    })
}

fn u(filter: &str) -> bool {
    matches(&USER_TYPE, &bjensen(), filter).unwrap_or_else(|e| panic!("{filter}: {e}"))
}

fn g(filter: &str) -> bool {
    matches(&GROUP_TYPE, &group(), filter).unwrap_or_else(|e| panic!("{filter}: {e}"))
}

fn rejected(rt: &crate::schema::ResourceTypeDef, filter: &str) -> String {
    let f = parse(filter).unwrap_or_else(|e| panic!("{filter} should parse: {e}"));
    let e = bind(rt, &f).expect_err(filter);
    assert_eq!(e.status, 400, "{filter}");
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
    // the SQL path rejects it identically
    assert_eq!(compile(rt, filter, 2).unwrap_err(), e);
    e.detail
}

#[test]
fn case_insensitive_string_attributes() {
    assert!(u(r#"userName eq "bjensen@example.com""#));
    assert!(u(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
    assert!(!u(r#"userName ne "bjensen@EXAMPLE.com""#));
    assert!(u(r#"userName co "JENSEN@""#));
    assert!(u(r#"userName sw "bjen""#));
    assert!(u(r#"userName ew ".COM""#));
    assert!(!u(r#"userName ew "example""#));
    assert!(u(r#"displayName eq "babs jensen""#));
    assert!(u(r#"emails.value eq "BJENSEN@example.com""#));
    assert!(u(r#"name.familyName eq "JENSEN""#));
    assert!(u(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
    ));
    assert!(g(r#"members.display eq "babs JENSEN""#));
    assert!(g(r#"displayName eq "tour guides""#));
}

#[test]
fn case_exact_string_attributes() {
    assert!(u(r#"externalId eq "Ext-BJensen""#));
    assert!(!u(r#"externalId eq "ext-bjensen""#));
    assert!(u(r#"externalId ne "ext-bjensen""#));
    assert!(!u(r#"externalId co "bjensen""#));
    assert!(u(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!u(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(u(r#"id sw "2819c223""#));
    assert!(u(r#"meta.version eq "W/\"3694e05e9dff591\"""#));
    assert!(!u(r#"meta.version eq "w/\"3694E05E9DFF591\"""#));
    assert!(u(r#"meta.resourceType eq "User""#));
    assert!(!u(r#"meta.resourceType eq "user""#));
    assert!(g(
        r#"members.value eq "902c246b-6245-4190-8e05-00816be7344a""#
    ));
    assert!(!g(
        r#"members.value eq "902C246B-6245-4190-8E05-00816BE7344A""#
    ));
    // groups.value is caseExact=false in RFC 7643's User schema
    assert!(u(
        r#"groups.value eq "E9E30DBA-F08F-4109-8486-D5C6A331660A""#
    ));
}

#[test]
fn case_insensitive_comparisons_use_unicode_caseless_matching() {
    let u = |name: &str, f: &str| matches(&USER_TYPE, &json!({"userName": name}), f).unwrap();
    assert!(u("ÉCOLE", r#"userName eq "école""#));
    assert!(u("e\u{301}cole", r#"userName eq "ÉCOLE""#)); // NFD vs NFC
    assert!(u("Straße", r#"userName eq "STRASSE""#)); // full folding
    assert!(u("ΟΔΟΣ", r#"userName eq "οδος""#)); // final sigma
    assert!(u("ALICE", r#"userName eq "alice""#)); // no Turkic tailoring
    assert!(!u("İstanbul", r#"userName eq "istanbul""#));
    assert!(u("ПРИВЕТ мир", r#"userName sw "привет""#));
    assert!(u("🎉Party", r#"userName co "🎉P""#));
    assert!(!u("Ärger", r#"userName eq "arger""#));
}

#[test]
fn string_ordering_is_bytewise() {
    assert!(u(r#"title gt "Tour""#));
    assert!(u(r#"title ge "Tour Guide""#));
    assert!(u(r#"title le "tour guide""#)); // case-insensitive: equal
    assert!(!u(r#"title lt "tour guide""#));
    assert!(u(r#"title lt "tz""#));
    // bytes, not a locale: "a" (0x61) > "Z" (0x5a) only if case-exact …
    let r = json!({"externalId": "a"});
    assert!(matches(&USER_TYPE, &r, r#"externalId gt "Z""#).unwrap());
    // … and "é" (0xC3 0xA9) sorts after "z"
    let r = json!({"externalId": "é"});
    assert!(matches(&USER_TYPE, &r, r#"externalId gt "z""#).unwrap());
}

#[test]
fn substring_operators_treat_wildcards_literally() {
    let r = json!({"userName": "a%b_c\\d"});
    let m = |f: &str| matches(&USER_TYPE, &r, f).unwrap();
    assert!(m(r#"userName co "%b_""#));
    assert!(!m(r#"userName co "x%""#));
    assert!(m(r#"userName ew "c\\d""#));
    assert!(!m(r#"userName sw "_""#));
    assert!(m(r#"userName co """#));
}

#[test]
fn booleans() {
    assert!(u("active eq true"));
    assert!(u("active eq TRUE"));
    assert!(!u("active eq false"));
    assert!(u("active ne false"));
    assert!(u("emails[primary eq true].value pr"));
    assert!(u(r#"emails[not (primary eq true) and type eq "home"]"#));
    assert!(u(r#"emails[primary ne false and type eq "work"]"#));
    // missing boolean: eq is false, ne (= not eq) true
    assert!(!u(r#"emails[type eq "home" and primary eq false]"#));
    assert!(u(r#"emails[type eq "home" and primary ne true]"#));
    for op in ["gt", "ge", "lt", "le", "co", "sw", "ew"] {
        let d = rejected(&USER_TYPE, &format!("active {op} true"));
        assert!(d.contains("boolean"), "{d}");
    }
}

#[test]
fn datetimes_compare_as_instants() {
    assert!(u(r#"meta.created eq "2010-01-23T04:56:22Z""#));
    assert!(u(r#"meta.created eq "2010-01-23T05:56:22+01:00""#));
    assert!(u(r#"meta.created eq "2010-01-23T04:56:22.000Z""#));
    assert!(!u(r#"meta.created ne "2010-01-23T04:56:22Z""#));
    assert!(u(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
    assert!(u(r#"meta.lastModified gt "2011-05-13T04:42:34.123455Z""#));
    assert!(!u(r#"meta.lastModified gt "2011-05-13T04:42:34.123456Z""#));
    assert!(u(r#"meta.lastModified ge "2011-05-13T04:42:34.123456Z""#));
    assert!(u(r#"meta.lastModified lt "2011-05-13T00:00:00-05:00""#));
    assert!(u(r#"meta.lastModified le "2012-01-01T00:00:00Z""#));
    // sub-microsecond digits are truncated, as Postgres timestamptz keeps µs
    assert!(u(r#"meta.lastModified eq "2011-05-13T04:42:34.1234569Z""#));
    assert!(g(r#"meta.created lt "2010-01-24T00:00:00Z""#));
    for bad in [
        "yesterday",
        "2011-05-13",
        "2011-05-13T04:42:34",
        "2011-13-13T04:42:34Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "",
    ] {
        let d = rejected(&USER_TYPE, &format!(r#"meta.created gt "{bad}""#));
        assert!(d.contains("meta.created"), "{d}");
    }
    let d = rejected(&USER_TYPE, r#"meta.created co "2010""#);
    assert!(d.contains("dateTime"), "{d}");
    rejected(&USER_TYPE, "meta.created gt 2010");
}

#[test]
fn type_mismatches_are_rejected() {
    for f in [
        "userName eq 1",
        "userName eq true",
        "userName gt 1.5",
        "active eq \"true\"",
        "active eq 1",
        "emails.primary eq \"yes\"",
        "id eq 42",
        "members.value eq 1",
    ] {
        let rt = if f.starts_with("members") {
            &GROUP_TYPE
        } else {
            &USER_TYPE
        };
        let d = rejected(rt, f);
        assert!(d.contains("type mismatch"), "{f}: {d}");
    }
    let d = rejected(&USER_TYPE, r#"x509Certificates.value gt "A""#);
    assert!(d.contains("binary"), "{d}");
}

#[test]
fn unknown_and_unfilterable_attributes_are_rejected() {
    for (rt, f, needle) in [
        (&USER_TYPE, r#"nope eq "x""#, "unknown attribute 'nope'"),
        (
            &USER_TYPE,
            r#"name.nope eq "x""#,
            "unknown attribute 'name.nope'",
        ),
        (
            &USER_TYPE,
            r#"emails[nope eq "x"]"#,
            "unknown sub-attribute 'nope'",
        ),
        (
            &USER_TYPE,
            r#"emails[name.givenName eq "x"]"#,
            "must be a sub-attribute",
        ),
        (
            &USER_TYPE,
            r#"urn:x:y:userName eq "x""#,
            "unknown attribute",
        ),
        (
            &USER_TYPE,
            r#"members.value eq "x""#,
            "unknown attribute 'members.value'",
        ),
        (
            &GROUP_TYPE,
            r#"userName eq "x""#,
            "unknown attribute 'userName'",
        ),
        (
            &GROUP_TYPE,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#,
            "unknown attribute",
        ),
        (
            &USER_TYPE,
            r#"password eq "secret""#,
            "cannot be used in a filter",
        ),
        (&USER_TYPE, "password pr", "cannot be used in a filter"),
        (
            &USER_TYPE,
            r#"meta.location co "x""#,
            "cannot be used in a filter",
        ),
        (
            &GROUP_TYPE,
            r#"members.$ref pr"#,
            "cannot be used in a filter",
        ),
        (
            &USER_TYPE,
            r#"groups.type eq "direct""#,
            "cannot be used in a filter",
        ),
        (&USER_TYPE, r#"name eq "x""#, "complex attribute"),
        (&USER_TYPE, r#"addresses eq "x""#, "complex attribute"),
        (
            &USER_TYPE,
            r#"userName[value eq "x"]"#,
            "needs a complex attribute",
        ),
        (
            &USER_TYPE,
            r#"emails.value[value eq "x"]"#,
            "needs a complex attribute",
        ),
        (&USER_TYPE, r#"userName gt null"#, "null can only"),
    ] {
        let d = rejected(rt, f);
        assert!(d.contains(needle), "{f}: {d}");
    }
}

#[test]
fn urn_qualified_paths() {
    assert!(u(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#
    ));
    assert!(u(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "barb""#
    ));
    assert!(u(
        r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNumber eq "701984""#
    ));
    assert!(u(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    ));
    assert!(u(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName co "smith"]"#
    ));
    assert!(!u(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr"#
    ));
    assert!(g(
        r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Tour Guides""#
    ));
}

#[test]
fn presence() {
    assert!(u("title pr"));
    assert!(u("name pr"));
    assert!(u("name.familyName pr"));
    assert!(!u("name.middleName pr"), "empty string is not present");
    assert!(!u("phoneNumbers pr"), "empty array is not present");
    assert!(!u("ims pr"), "missing");
    assert!(u("emails pr"));
    assert!(u("emails.type pr"));
    assert!(!u("emails.display pr"));
    assert!(u("meta pr"));
    assert!(u("meta.version pr"));
    assert!(u("groups pr"));
    assert!(g("members pr"));
    assert!(g("members.display pr"));
    let r = json!({"userName": "x", "name": {}, "nickName": null, "emails": [{}]});
    let m = |f: &str| matches(&USER_TYPE, &r, f).unwrap();
    assert!(!m("name pr"));
    assert!(!m("nickName pr"));
    assert!(m("emails pr"), "a non-empty array is present");
    assert!(!m("emails.value pr"));
}

#[test]
fn missing_attributes_make_every_comparison_false_but_ne() {
    for op in ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
        let f = format!(r#"nickName {op} "zzz""#);
        assert!(
            !matches(&USER_TYPE, &json!({"userName": "x"}), &f).unwrap(),
            "{f}"
        );
        // so `not` of it is true
        let f = format!(r#"not (nickName {op} "zzz")"#);
        assert!(
            matches(&USER_TYPE, &json!({"userName": "x"}), &f).unwrap(),
            "{f}"
        );
    }
    // `ne` is `not (eq)`: an absent attribute differs from every value
    let bare = json!({"userName": "x"});
    assert!(matches(&USER_TYPE, &bare, r#"nickName ne "zzz""#).unwrap());
    assert!(!matches(&USER_TYPE, &bare, r#"not (nickName ne "zzz")"#).unwrap());
    assert!(u(r#"ims.value ne "x""#));
    assert!(!u(r#"emails[type eq "fax"]"#));
    assert!(u(r#"not (emails[type eq "fax"])"#));
    // wrong JSON type behaves as missing: never equal, so `ne` holds
    let r = json!({"nickName": 5, "active": "true"});
    assert!(!matches(&USER_TYPE, &r, r#"nickName eq "x""#).unwrap());
    assert!(matches(&USER_TYPE, &r, r#"nickName ne "x""#).unwrap());
    assert!(matches(&USER_TYPE, &r, "active ne false").unwrap());
}

#[test]
fn ne_on_multi_valued_means_no_value_equal() {
    let r = json!({"userName": "x", "emails": [{"value": "a@x.com"}, {"value": "b@x.com"}]});
    assert!(!matches(&USER_TYPE, &r, r#"emails.value ne "A@x.com""#).unwrap());
    assert!(matches(&USER_TYPE, &r, r#"emails.value ne "c@x.com""#).unwrap());
    assert!(matches(
        &USER_TYPE,
        &json!({"userName": "x"}),
        r#"emails.value ne "c@x.com""#
    )
    .unwrap());
    // inside brackets, per element: an element without `type` matches
    assert!(matches(&USER_TYPE, &r, r#"emails[type ne "work"]"#).unwrap());
}

#[test]
fn null_literal_means_unassigned() {
    assert!(u("nickName ne null"));
    assert!(!u("nickName eq null"));
    assert!(u("ims eq null"));
    assert!(u("name.middleName eq null"), "empty string equals null");
    assert!(u(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter eq NULL"
    ));
    assert!(!u("emails eq null"));
    assert!(u("emails.display eq null"));
    assert!(u("active ne null"));
    let f = bind(&USER_TYPE, &parse("title eq null").unwrap()).unwrap();
    assert!(matches!(f, BoundFilter::Not(ref p) if matches!(**p, BoundFilter::Present(_))));
}

#[test]
fn multi_valued_any_semantics_versus_value_paths() {
    // any element matches the one condition
    assert!(u(r#"emails.value ew "jensen.org""#));
    assert!(u(r#"emails eq "babs@jensen.org""#));
    assert!(u(r#"emails co "@example""#));
    assert!(u(
        r#"emails.type eq "work" and emails.value ew "jensen.org""#
    ));
    // but a bracket needs one element to satisfy everything
    assert!(!u(r#"emails[type eq "work" and value ew "jensen.org"]"#));
    assert!(u(r#"emails[type eq "home" and value ew "jensen.org"]"#));
    assert!(u(
        r#"emails[type eq "work"].value eq "BJensen@example.com""#
    ));
    assert!(!u(
        r#"emails[type eq "home"].value eq "bjensen@example.com""#
    ));
    assert!(u(r#"emails[not (type eq "work")]"#));
    assert!(u(r#"emails[type eq "home" or primary eq true]"#));
    assert!(u(r#"addresses[type eq "work" and locality co "wood"]"#));
    assert!(u(r#"name[givenName eq "barbara" and familyName pr]"#));
    assert!(!u(r#"name[givenName eq "barbara" and middleName pr]"#));
    assert!(u(
        r#"meta[resourceType eq "User" and created lt "2011-01-01T00:00:00Z"]"#
    ));
    assert!(g(r#"members[type eq "group" and display sw "man"]"#));
    assert!(!g(r#"members[type eq "User" and display sw "man"]"#));
    assert!(u(r#"groups[display eq "tour guides"]"#));
}

#[test]
fn logic_precedence_and_not() {
    assert!(u(
        r#"title eq "nope" or userType eq "employee" and active eq true"#
    ));
    assert!(!u(
        r#"(title eq "nope" or userType eq "employee") and active eq false"#
    ));
    assert!(u(r#"not (title eq "nope") and not (not (active eq true))"#));
    assert!(!u(r#"not (title pr or nickName pr)"#));
    assert!(u(
        r#"userName eq "nope" or (displayName co "babs" and (not (title eq "x") or title pr))"#
    ));
}

#[test]
fn value_filters_for_patch() {
    let emails = USER_TYPE.resolve("emails").unwrap();
    let f = bind_value_filter(
        &USER_TYPE,
        &emails,
        &parse_value_filter(r#"type eq "WORK""#).unwrap(),
    )
    .unwrap();
    assert!(eval_value_filter(
        &f,
        &json!({"value": "a@b", "type": "work"})
    ));
    assert!(!eval_value_filter(
        &f,
        &json!({"value": "a@b", "type": "home"})
    ));
    assert!(!eval_value_filter(&f, &json!("work")));
    assert!(!eval_value_filter(&f, &json!({})));
    let members = GROUP_TYPE.resolve("members").unwrap();
    assert!(matches_value(
        &GROUP_TYPE,
        "members",
        &json!({"value": "abc"}),
        r#"value eq "abc""#
    )
    .unwrap());
    assert!(!matches_value(
        &GROUP_TYPE,
        "members",
        &json!({"value": "abc"}),
        r#"value eq "ABC""#
    )
    .unwrap());
    let e = bind_value_filter(
        &GROUP_TYPE,
        &members,
        &parse_value_filter("nope pr").unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    let display_name = GROUP_TYPE.resolve("displayName").unwrap();
    assert_eq!(display_name.leaf().ty, AttrType::String);
    assert!(bind_value_filter(
        &GROUP_TYPE,
        &display_name,
        &parse_value_filter("x pr").unwrap()
    )
    .is_err());
    assert!(matches_value(&GROUP_TYPE, "nope", &json!({}), "value pr").is_err());
}

#[test]
fn attribute_names_in_json_match_case_insensitively() {
    let r = json!({"UserName": "x", "EMAILS": [{"Value": "a@b"}]});
    assert!(matches(&USER_TYPE, &r, r#"userName eq "x""#).unwrap());
    assert!(matches(&USER_TYPE, &r, r#"emails.value eq "a@b""#).unwrap());
}
