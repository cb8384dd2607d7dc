//! Differential check of `eval` against the compiled SQL.
//!
//! `differential_script` binds a few thousand filters (attribute × operator
//! × value, each also negated, plus hand-written value paths), evaluates
//! them in memory over a small fixture, and — when
//! `SCIM_FILTER_DIFF_SQL=<file>` is set — writes a psql script that loads
//! the same fixture into `scim.users` / `scim.groups` / `scim.members`
//! (the storage layout the compiler targets) and prints, per filter,
//! `n|expected ids|actual ids`. Any line whose last two fields differ is
//! a disagreement:
//!
//! ```sh
//! SCIM_FILTER_DIFF_SQL=/tmp/diff.sql SCIM_FILTER_DIFF_LIBRARY=scim_pg-0.2.0 \
//!   cargo test filter::tests_pg
//! psql -X -q -At -v ON_ERROR_STOP=1 -d <scratch db> -f /tmp/diff.sql \
//!   | awk -F'|' '$2 != $3'
//! ```
//!
//! The scratch database needs the extension's library installed (the
//! script declares `scim.fold` from it, `SCIM_FILTER_DIFF_LIBRARY` names
//! it: `scim_pg-<version>`); `scripts/test` runs the script in
//! a default-locale and a `C`-locale database (step `regress`).
//!
//! Without the variable the test still checks that every bound filter
//! compiles with consistent placeholders.

use super::*;
use crate::schema::{ResourceTypeDef, GROUP_TYPE, USER_TYPE};
use serde_json::{json, Map, Value};

const T1: &str = "00000000-0000-0000-0000-000000000001";
const T2: &str = "00000000-0000-0000-0000-000000000002";
const U1: &str = "2819c223-7f76-453a-919d-413861904646";
const U2: &str = "11111111-7f76-453a-919d-413861904646";
const U3: &str = "33333333-7f76-453a-919d-413861904646";
const U4: &str = "44444444-7f76-453a-919d-413861904646";
const UX: &str = "99999999-7f76-453a-919d-413861904646";
const G1: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";
const G2: &str = "902c246b-6245-4190-8e05-00816be7344a";
const G3: &str = "a0000000-6245-4190-8e05-00816be7344a";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GX: &str = "urn:arbitex:scim:schemas:extension:Group:2.0";
const UXT: &str = "urn:example:params:scim:schemas:extension:custom:2.0:User";

/// The registered extensions the fixture's tenant has (issue 13).
fn tenant_types() -> (&'static ResourceTypeDef, &'static ResourceTypeDef) {
    use crate::extension::{tenant_type, validate_definition, ExtensionLimits, Registered};
    let reg = |base: &'static ResourceTypeDef, def: Value| {
        let canonical = validate_definition(base, &def, &ExtensionLimits::default()).unwrap();
        tenant_type(
            base,
            &[Registered {
                definition: canonical,
                required: false,
            }],
        )
        .unwrap()
    };
    let user = reg(
        &USER_TYPE,
        json!({"id": UXT, "attributes": [
            {"name": "costCode", "type": "string"},
            {"name": "badge", "type": "string", "caseExact": true},
            {"name": "level", "type": "integer"},
            {"name": "score", "type": "decimal"},
            {"name": "contractor", "type": "boolean"},
            {"name": "skills", "type": "string", "multiValued": true},
            {"name": "licenses", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"}, {"name": "seats", "type": "integer"},
                {"name": "primary", "type": "boolean"}]}]}),
    );
    let group = reg(
        &GROUP_TYPE,
        json!({"id": GX, "attributes": [
            {"name": "modelAccess", "type": "string", "multiValued": true},
            {"name": "quotaTokens", "type": "integer"},
            {"name": "complianceBundles", "type": "string", "multiValued": true},
            {"name": "dlpPolicy", "type": "string", "canonicalValues": ["SKIP", "REDACT", "CANCEL", "BLOCK"]}]}),
    );
    (user, group)
}

struct Row {
    tenant: &'static str,
    id: &'static str,
    created: &'static str,
    modified: &'static str,
    version: i64,
    /// Stored `resource` (no id, meta, members).
    body: Value,
}

fn users() -> Vec<Row> {
    vec![
        Row {
            tenant: T1,
            id: U1,
            created: "2010-01-23T04:56:22Z",
            modified: "2011-05-13T04:42:34.123456Z",
            version: 3,
            body: json!({
                "userName": "BJensen@Example.com", "externalId": "Ext-1",
                "displayName": "Babs Jensen", "active": true, "title": "Tour Guide",
                "name": {"familyName": "Jensen", "givenName": "Barbara"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                           {"value": "Babs@Jensen.org", "type": "home"}],
                "x509Certificates": [{"value": "MIIDQzCCAqy"}],
                ENT: {"department": "Tour Operations",
                      "manager": {"value": U3, "displayName": "Zed"}},
                UXT: {"costCode": "CC-1", "badge": "B-1", "level": 3, "score": 1.5,
                      "contractor": false, "skills": ["Rust", "école"],
                      "licenses": [{"value": "gpt-4o", "seats": 10, "primary": true},
                                   {"value": "claude", "seats": 2}]}
            }),
        },
        Row {
            tenant: T1,
            id: U2,
            created: "2011-01-01T00:00:00Z",
            modified: "2011-01-01T00:00:00Z",
            version: 1,
            body: json!({
                "userName": "école", "active": false, "displayName": "Straße ПРИВЕТ 🎉", "title": "", "nickName": "a%b_c\\d",
                "name": {}, "emails": [], "phoneNumbers": []
            }),
        },
        Row {
            tenant: T1,
            id: U3,
            created: "2012-06-30T23:59:59.5Z",
            modified: "2013-01-01T00:00:00+05:00",
            version: 12,
            body: json!({
                "userName": "zed", "externalId": "ext-1", "displayName": "ΟΔΟΣ",
                "emails": [{"value": "Z@X.COM"}, {"type": "work", "primary": false}, {"value": "_"}],
                ENT: {"department": "tour"},
                UXT: {"costCode": "cc-1", "level": 1000, "score": -3, "skills": []}
            }),
        },
        Row {
            tenant: T1,
            id: U4,
            created: "2012-06-30T23:59:59Z",
            modified: "2012-06-30T23:59:59Z",
            version: 2,
            body: json!({"userName": "İstanbul", "displayName": "", "nickName": "B",
                         "name": {"givenName": "b"},
                         UXT: {"badge": "b-1", "contractor": true, "skills": ["RUST"],
                               "licenses": [{"value": "Claude", "seats": 1000}]}}),
        },
        // Another tenant that matches almost anything: must never show up.
        Row {
            tenant: T2,
            id: UX,
            created: "2010-01-23T04:56:22Z",
            modified: "2011-05-13T04:42:34.123456Z",
            version: 3,
            body: json!({"userName": "bjensen@example.com", "externalId": "Ext-1",
                         "emails": [{"value": "bjensen@example.com", "type": "work"}]}),
        },
    ]
}

fn groups() -> Vec<Row> {
    let g = |id, name: &str, ext: Option<&str>| Row {
        tenant: T1,
        id,
        created: "2010-01-23T04:56:22Z",
        modified: "2014-01-23T04:56:22Z",
        version: 7,
        body: match ext {
            Some(e) => json!({"displayName": name, "externalId": e}),
            None => json!({"displayName": name}),
        },
    };
    let mut rows = vec![
        g(G1, "Tour Guides", Some("g-1")),
        g(G2, "Managers", None),
        g(G3, "Empty", Some("")),
    ];
    rows[0].body[GX] = json!({"modelAccess": ["gpt-4o", "claude-3-5-sonnet"], "quotaTokens": 500000,
                              "complianceBundles": ["soc2-type2"], "dlpPolicy": "REDACT"});
    rows[1].body[GX] =
        json!({"modelAccess": ["GPT-4O"], "quotaTokens": 1000, "dlpPolicy": "BLOCK"});
    rows
}

/// (group, member, type)
const MEMBERS: &[(&str, &str, &str)] = &[
    (G1, U1, "User"),
    (G1, G2, "Group"),
    (G2, U3, "User"),
    (G2, U4, "User"),
];

fn display_of(id: &str) -> Option<String> {
    for u in users() {
        if u.id == id {
            let b = &u.body;
            return b["displayName"]
                .as_str()
                .or(b["userName"].as_str())
                .map(str::to_string);
        }
    }
    groups()
        .into_iter()
        .find(|g| g.id == id)
        .and_then(|g| g.body["displayName"].as_str().map(str::to_string))
}

/// The GET representation of a row.
fn representation(rt: &ResourceTypeDef, row: &Row) -> Value {
    let mut m: Map<String, Value> = Map::new();
    m.insert("id".into(), json!(row.id));
    for (k, v) in row.body.as_object().unwrap() {
        m.insert(k.clone(), v.clone());
    }
    m.insert(
        "meta".into(),
        json!({"resourceType": rt.name, "created": row.created, "lastModified": row.modified,
               "version": format!("W/\"{}\"", row.version)}),
    );
    let is_user = rt.name == "User";
    let list: Vec<Value> = MEMBERS
        .iter()
        .filter(|(g, mbr, _)| {
            if is_user {
                *mbr == row.id
            } else {
                *g == row.id
            }
        })
        .map(|(g, mbr, ty)| {
            if is_user {
                json!({"value": g, "display": display_of(g)})
            } else {
                let mut e = json!({"value": mbr, "type": ty});
                if let Some(d) = display_of(mbr) {
                    e["display"] = json!(d);
                }
                e
            }
        })
        .collect();
    if !list.is_empty() {
        m.insert(
            if is_user { "groups" } else { "members" }.into(),
            Value::Array(list),
        );
    }
    Value::Object(m)
}

fn filters(rt: &ResourceTypeDef) -> Vec<String> {
    let user_attrs = [
        "userName",
        "externalId",
        "displayName",
        "active",
        "id",
        "title",
        "nickName",
        "name",
        "name.familyName",
        "name.givenName",
        "emails",
        "emails.value",
        "emails.type",
        "emails.primary",
        "emails.display",
        "phoneNumbers",
        "x509Certificates.value",
        "groups",
        "groups.value",
        "groups.display",
        "meta",
        "meta.created",
        "meta.lastModified",
        "meta.version",
        "meta.resourceType",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:costCode",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:badge",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:level",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:score",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:contractor",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:skills",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:licenses",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:licenses.value",
        "urn:example:params:scim:schemas:extension:custom:2.0:User:licenses.seats",
    ];
    let group_attrs = [
        "displayName",
        "externalId",
        "id",
        "members",
        "members.value",
        "members.type",
        "members.display",
        "meta.created",
        "meta.lastModified",
        "meta.version",
        "urn:arbitex:scim:schemas:extension:Group:2.0:modelAccess",
        "urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens",
        "urn:arbitex:scim:schemas:extension:Group:2.0:complianceBundles",
        "urn:arbitex:scim:schemas:extension:Group:2.0:dlpPolicy",
    ];
    let attrs: &[&str] = if rt.name == "User" {
        &user_attrs
    } else {
        &group_attrs
    };
    let mut values: Vec<String> = [
        "bjensen@example.com",
        "BJENSEN@EXAMPLE.COM",
        "b",
        "B",
        "jensen",
        "",
        "%",
        "_",
        "\\",
        "a%b",
        "école",
        "ÉCOLE",
        "οδοσ",
        "i",
        "istanbul",
        "İSTANBUL",
        "i\u{307}stanbul",
        "ΟΔΟΣ",
        "οδος",
        "e\u{301}cole",
        "STRASSE",
        "straße",
        "привет",
        "🎉",
        "Tour",
        "tour guide",
        "ext-1",
        "Ext-1",
        "not-a-uuid",
        "W/\"3\"",
        "W/\"7\"",
        "User",
        "Group",
        "work",
        "z@x.com",
        "Managers",
        "babs jensen",
        "MIIDQzCCAqy",
        "zed",
        "2010-01-23T04:56:22Z",
        "2011-05-13T04:42:34.123456Z",
        "2011-01-01T05:00:00+05:00",
        "2012-06-30T23:59:59.5Z",
        "2012-06-30T23:59:59.4999999Z",
        "gpt-4o",
        "REDACT",
        "redact",
        "rust",
        "CC-1",
        "b-1",
    ]
    .iter()
    .map(|s| serde_json::to_string(s).unwrap())
    .collect();
    for id in [U1, U3, U4, G1, G2] {
        values.push(format!("\"{id}\""));
        values.push(format!("\"{}\"", id.to_uppercase()));
        values.push(format!("\"{}\"", &id[..8]));
    }
    values.extend(
        [
            "true", "false", "null", "1", "1000", "500000", "1.5", "-3", "2.0", "1e3",
        ]
        .map(String::from),
    );
    let mut out = vec![];
    for a in attrs {
        out.push(format!("{a} pr"));
        for op in CompareOp::ALL {
            for v in &values {
                out.push(format!("{a} {op} {v}"));
            }
        }
    }
    let extra_user = [
        r#"emails[type eq "work" and value co "@example"]"#,
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#,
        r#"emails[type eq "work"].value eq "z@x.com""#,
        r#"emails[value eq "z@x.com" or type eq "home"]"#,
        r#"emails[not (value pr)]"#,
        r#"emails[not (primary eq true)]"#,
        r#"emails[primary eq false and not (value pr)]"#,
        r#"emails[value eq "_"]"#,
        r#"name[givenName eq "b"]"#,
        r#"name[not (givenName pr)]"#,
        r#"meta[version eq "W/\"12\"" and created gt "2012-01-01T00:00:00Z"]"#,
        r#"groups[value eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and display sw "tour"]"#,
        r#"groups[not (display eq "managers")]"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr and displayName eq "zed"]"#,
        r#"userName eq "zed" or displayName co "jensen" and active eq true"#,
        r#"(userName eq "zed" or displayName co "jensen") and not (active eq true)"#,
        r#"not (emails.value ew ".com") and not (title pr)"#,
        r#"urn:example:params:scim:schemas:extension:custom:2.0:User:licenses[value eq "claude" and seats gt 5]"#,
        r#"urn:example:params:scim:schemas:extension:custom:2.0:User:licenses[seats ge 10 or primary eq true]"#,
        r#"urn:example:params:scim:schemas:extension:custom:2.0:User:licenses[not (seats pr)]"#,
        r#"urn:example:params:scim:schemas:extension:custom:2.0:User:level gt 2 and urn:example:params:scim:schemas:extension:custom:2.0:User:skills eq "rust""#,
    ];
    let extra_group = [
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"members[type eq "group" and display eq "managers"]"#,
        r#"members[not (type eq "User")]"#,
        r#"members[display co "ο"]"#,
        r#"members[value eq "NOT-A-UUID" or display eq "İstanbul"]"#,
        r#"not (members pr) or displayName sw "tour""#,
        r#"urn:arbitex:scim:schemas:extension:Group:2.0:quotaTokens gt 1000 and urn:arbitex:scim:schemas:extension:Group:2.0:modelAccess eq "gpt-4o""#,
    ];
    let extra: &[&str] = if rt.name == "User" {
        &extra_user
    } else {
        &extra_group
    };
    out.extend(extra.iter().map(|s| s.to_string()));
    let negated: Vec<String> = out.iter().map(|f| format!("not ({f})")).collect();
    out.extend(negated);
    out
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn json_lit(v: &Value) -> String {
    format!("{}::jsonb", quote(&v.to_string()))
}

fn fixture_sql() -> String {
    let mut s = String::from(
        "DROP SCHEMA IF EXISTS scim CASCADE;\nCREATE SCHEMA scim;\n\
CREATE FUNCTION scim.fold(text) RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE \
AS '$libdir/@LIBRARY@', 'scim_fold_text_wrapper';\n\
CREATE TABLE scim.users (tenant_id uuid NOT NULL, id uuid NOT NULL, user_name text NOT NULL, external_id text, \
display_name text, active boolean, email_values text[], created timestamptz NOT NULL, last_modified timestamptz NOT NULL, \
version bigint NOT NULL, resource jsonb NOT NULL, PRIMARY KEY (tenant_id, id));\n\
CREATE TABLE scim.groups (tenant_id uuid NOT NULL, id uuid NOT NULL, display_name text NOT NULL, external_id text, \
created timestamptz NOT NULL, last_modified timestamptz NOT NULL, version bigint NOT NULL, resource jsonb NOT NULL, \
PRIMARY KEY (tenant_id, id));\n\
CREATE TABLE scim.members (tenant_id uuid NOT NULL, group_id uuid NOT NULL, member_id uuid NOT NULL, \
member_type text NOT NULL, PRIMARY KEY (tenant_id, group_id, member_id));\n\
CREATE TABLE scim.member_writes (tenant_id uuid NOT NULL, group_id uuid NOT NULL, n bigint NOT NULL, \
at timestamptz NOT NULL);\n",
    );
    for u in users() {
        let b = &u.body;
        let t = |k: &str| b[k].as_str().map_or("NULL".to_string(), quote);
        let active = b["active"]
            .as_bool()
            .map_or("NULL".into(), |x| x.to_string());
        s.push_str(&format!(
            "INSERT INTO scim.users VALUES ({}, {}, {}, {}, {}, {active}, \
ARRAY(SELECT scim.fold(e->>'value') FROM jsonb_array_elements(COALESCE({}->'emails', '[]')) e WHERE jsonb_typeof(e->'value') = 'string'), \
{}, {}, {}, {});\n",
            quote(u.tenant),
            quote(u.id),
            t("userName"),
            t("externalId"),
            t("displayName"),
            json_lit(b),
            quote(u.created),
            quote(u.modified),
            u.version,
            json_lit(b)
        ));
    }
    for g in groups() {
        let b = &g.body;
        let t = |k: &str| b[k].as_str().map_or("NULL".to_string(), quote);
        s.push_str(&format!(
            "INSERT INTO scim.groups VALUES ({}, {}, {}, {}, {}, {}, {}, {});\n",
            quote(g.tenant),
            quote(g.id),
            t("displayName"),
            t("externalId"),
            quote(g.created),
            quote(g.modified),
            g.version,
            json_lit(b)
        ));
    }
    for (g, m, ty) in MEMBERS {
        s.push_str(&format!(
            "INSERT INTO scim.members VALUES ({}, {}, {}, {});\n",
            quote(T1),
            quote(g),
            quote(m),
            quote(ty)
        ));
    }
    s
}

#[test]
fn differential_script() {
    let mut script = fixture_sql();
    let mut n = 0usize;
    let mut compiled_count = 0usize;
    let (user_type, group_type) = tenant_types();
    for (rt, table, rows) in [
        (user_type, "scim.users", users()),
        (group_type, "scim.groups", groups()),
    ] {
        let reps: Vec<(&str, &str, Value)> = rows
            .iter()
            .map(|r| (r.tenant, r.id, representation(rt, r)))
            .collect();
        for text in filters(rt) {
            let Ok(bound) = parse(&text).and_then(|f| bind(rt, &f)) else {
                continue;
            };
            let c = compile_bound(rt, &bound, 2).unwrap_or_else(|e| panic!("{text}: {e}"));
            compiled_count += 1;
            for (i, p) in c.params.iter().enumerate() {
                assert!(c.sql.contains(&format!("${}", i + 2)), "{text}: {}", c.sql);
                assert!(!p.is_empty() || text.contains("\"\""), "{text}");
            }
            assert!(
                !c.sql.contains(&format!("${}", c.params.len() + 2)),
                "{text}"
            );
            let mut expected: Vec<&str> = reps
                .iter()
                .filter(|(t, _, r)| *t == T1 && eval(&bound, r))
                .map(|(_, id, _)| *id)
                .collect();
            expected.sort();
            n += 1;
            let types = std::iter::once("uuid")
                .chain(c.params.iter().map(|_| "text"))
                .collect::<Vec<_>>()
                .join(", ");
            let args = std::iter::once(quote(T1))
                .chain(c.params.iter().map(|p| quote(p)))
                .collect::<Vec<_>>()
                .join(", ");
            script.push_str(&format!(
                "-- {}\nPREPARE q{n}({types}) AS SELECT {n}, {}, coalesce(string_agg(r.id::text, ',' ORDER BY r.id::text COLLATE \"C\"), '') \
FROM {table} r WHERE r.tenant_id = $1 AND ({});\nEXECUTE q{n}({args});\nDEALLOCATE q{n};\n",
                text.replace('\n', " "),
                quote(&expected.join(",")),
                c.sql
            ));
        }
    }
    assert!(compiled_count > 1000, "{compiled_count}");
    if let Ok(path) = std::env::var("SCIM_FILTER_DIFF_SQL") {
        // The library is versioned (scim_pg-<version>): the caller names it.
        let library =
            std::env::var("SCIM_FILTER_DIFF_LIBRARY").unwrap_or_else(|_| "scim_pg".into());
        std::fs::write(path, script.replacen("@LIBRARY@", &library, 1)).unwrap();
    }
}
