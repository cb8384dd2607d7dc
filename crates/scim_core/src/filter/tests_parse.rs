//! Parser tests: grammar, precedence, literals, malformed input, and
//! property tests (round trip, no panics).

use super::*;
use crate::error::ScimType;
use proptest::prelude::*;

fn p(s: &str) -> Filter {
    parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn path(name: &str) -> AttrPath {
    AttrPath::simple(name)
}

fn sub(name: &str, sub: &str) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.into(),
        sub: Some(sub.into()),
    }
}

fn cmp(path: AttrPath, op: CompareOp, v: CompValue) -> Filter {
    Filter::Compare { path, op, value: v }
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.into())
}

fn eq(name: &str, v: &str) -> Filter {
    cmp(path(name), CompareOp::Eq, s(v))
}

fn assert_invalid(input: &str) -> String {
    match parse(input) {
        Ok(f) => panic!("{input:?} should be rejected, parsed as {f:?}"),
        Err(e) => {
            assert_eq!(e.status, 400, "{input:?}");
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input:?}");
            assert!(!e.detail.is_empty());
            e.detail
        }
    }
}

#[test]
fn every_operator_case_insensitively() {
    for op in CompareOp::ALL {
        for spelled in [
            op.as_str().to_string(),
            op.as_str().to_uppercase(),
            format!("{}{}", op.as_str()[..1].to_uppercase(), &op.as_str()[1..]),
        ] {
            assert_eq!(
                p(&format!("userName {spelled} \"x\"")),
                cmp(path("userName"), op, s("x"))
            );
        }
    }
    assert_eq!(p("title pr"), Filter::Present(path("title")));
    assert_eq!(p("title PR"), Filter::Present(path("title")));
}

#[test]
fn literals() {
    assert_eq!(
        p("active eq true"),
        cmp(path("active"), CompareOp::Eq, CompValue::Bool(true))
    );
    assert_eq!(
        p("active eq FALSE"),
        cmp(path("active"), CompareOp::Eq, CompValue::Bool(false))
    );
    assert_eq!(
        p("title eq Null"),
        cmp(path("title"), CompareOp::Eq, CompValue::Null)
    );
    for (text, n) in [
        ("0", serde_json::Number::from(0)),
        ("42", 42.into()),
        ("-7", (-7).into()),
        ("1.5", serde_json::Number::from_f64(1.5).unwrap()),
        ("-0.25e2", serde_json::Number::from_f64(-25.0).unwrap()),
        ("1E3", serde_json::Number::from_f64(1000.0).unwrap()),
    ] {
        assert_eq!(
            p(&format!("x gt {text}")),
            cmp(path("x"), CompareOp::Gt, CompValue::Number(n)),
            "{text}"
        );
    }
    assert_eq!(
        p(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        cmp(
            sub("meta", "lastModified"),
            CompareOp::Gt,
            s("2011-05-13T04:42:34Z")
        )
    );
}

#[test]
fn json_string_escapes() {
    assert_eq!(
        p(r#"title eq "a\"b\\c\/d\b\f\n\r\t""#),
        eq("title", "a\"b\\c/d\u{8}\u{c}\n\r\t")
    );
    assert_eq!(p(r#"title eq "\u00e9\u00C9""#), eq("title", "éÉ"));
    // surrogate pair
    assert_eq!(p(r#"title eq "\ud83d\ude00""#), eq("title", "😀"));
    assert_eq!(p(r#"title eq "naïve 日本""#), eq("title", "naïve 日本"));
    assert_eq!(p(r#"title eq """#), eq("title", ""));
    // brackets, parens and keywords inside strings are just text
    assert_eq!(
        p(r#"title eq ") or [x] and not (""#),
        eq("title", ") or [x] and not (")
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let a = || eq("a", "1");
    let b = || eq("b", "2");
    let c = || eq("c", "3");
    assert_eq!(
        p(r#"a eq "1" or b eq "2" and c eq "3""#),
        Filter::Or(vec![a(), Filter::And(vec![b(), c()])])
    );
    assert_eq!(
        p(r#"a eq "1" and b eq "2" or c eq "3""#),
        Filter::Or(vec![Filter::And(vec![a(), b()]), c()])
    );
    assert_eq!(
        p(r#"(a eq "1" or b eq "2") and c eq "3""#),
        Filter::And(vec![Filter::Or(vec![a(), b()]), c()])
    );
    assert_eq!(
        p(r#"a eq "1" AND b eq "2" And c eq "3""#),
        Filter::And(vec![a(), b(), c()])
    );
    assert_eq!(
        p(r#"a eq "1" OR b eq "2" or c eq "3""#),
        Filter::Or(vec![a(), b(), c()])
    );
}

#[test]
fn not_and_parentheses() {
    let a = || eq("a", "1");
    assert_eq!(p(r#"not (a eq "1")"#), Filter::Not(Box::new(a())));
    assert_eq!(p(r#"NOT(a eq "1")"#), Filter::Not(Box::new(a())));
    assert_eq!(p(r#"((((a eq "1"))))"#), a());
    assert_eq!(
        p(r#"not (not (a eq "1"))"#),
        Filter::Not(Box::new(Filter::Not(Box::new(a()))))
    );
    assert_eq!(
        p(r#"  ( a eq "1" )  and  not ( b pr )  "#),
        Filter::And(vec![a(), Filter::Not(Box::new(Filter::Present(path("b"))))])
    );
    assert_eq!(
        p("a pr\tand\nb pr"),
        Filter::And(vec![Filter::Present(path("a")), Filter::Present(path("b"))])
    );
    // `note` is an attribute name, not `not` + `e`
    assert_eq!(p("note pr"), Filter::Present(path("note")));
    // keywords need a word boundary
    assert_eq!(p("andy pr"), Filter::Present(path("andy")));
    assert_eq!(p("order pr"), Filter::Present(path("order")));
}

#[test]
fn nesting_limit() {
    let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(p(&ok), Filter::Present(path("a")));
    let deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(assert_invalid(&deep).contains("nested"));
    let deep_not = format!(
        "{}a pr{}",
        "not (".repeat(100_000 / 6),
        ")".repeat(100_000 / 6)
    );
    assert_invalid(&deep_not);
    // a very deep input below the length cap never overflows the stack
    let deep = format!("{}a pr{}", "(".repeat(4_000), ")".repeat(4_000));
    assert!(assert_invalid(&deep).contains("nested"));
}

#[test]
fn length_limit() {
    let long_ok = format!("title eq \"{}\"", "x".repeat(MAX_LEN - 20));
    assert!(parse(&long_ok).is_ok());
    let too_long = format!("title eq \"{}\"", "x".repeat(MAX_LEN));
    assert!(assert_invalid(&too_long).contains("too long"));
    // long `and` chains stay flat
    let chain = vec!["a pr"; 1000].join(" and ");
    match p(&chain) {
        Filter::And(items) => assert_eq!(items.len(), 1000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn attribute_paths_and_urns() {
    assert_eq!(
        p(r#"name.familyName co "O'Malley""#),
        cmp(sub("name", "familyName"), CompareOp::Co, s("O'Malley"))
    );
    let f =
        p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#);
    assert_eq!(
        f,
        cmp(
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                name: "department".into(),
                sub: None
            },
            CompareOp::Eq,
            s("Sales")
        )
    );
    let f = p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1""#);
    assert_eq!(
        f,
        cmp(
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                name: "manager".into(),
                sub: Some("value".into())
            },
            CompareOp::Eq,
            s("1")
        )
    );
    let f = p(r#"URN:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#);
    assert_eq!(
        f,
        cmp(
            AttrPath {
                urn: Some("URN:ietf:params:scim:schemas:core:2.0:User".into()),
                name: "userName".into(),
                sub: None
            },
            CompareOp::Eq,
            s("bjensen")
        )
    );
    assert_eq!(
        p(r#"members.$ref pr"#),
        Filter::Present(sub("members", "$ref"))
    );
    assert_eq!(p("x-y_z9 pr"), Filter::Present(path("x-y_z9")));
}

#[test]
fn value_paths() {
    let work = || eq("type", "work");
    assert_eq!(
        p(r#"emails[type eq "work" and value co "@example.com"]"#),
        Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(Filter::And(vec![
                work(),
                cmp(path("value"), CompareOp::Co, s("@example.com"))
            ]))
        }
    );
    assert_eq!(
        p(r#"userType eq "Employee" and emails[ type eq "work" ] or title pr"#),
        Filter::Or(vec![
            Filter::And(vec![
                eq("userType", "Employee"),
                Filter::ValuePath {
                    path: path("emails"),
                    filter: Box::new(work())
                }
            ]),
            Filter::Present(path("title"))
        ])
    );
    assert_eq!(
        p(r#"emails[not (type eq "work")]"#),
        Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(Filter::Not(Box::new(work())))
        }
    );
}

#[test]
fn entra_value_path_with_sub_attribute() {
    let expected = Filter::ValuePath {
        path: path("emails"),
        filter: Box::new(Filter::And(vec![
            eq("type", "work"),
            eq("value", "x@y.com"),
        ])),
    };
    assert_eq!(p(r#"emails[type eq "work"].value eq "x@y.com""#), expected);
    assert_eq!(
        p(r#"emails[type eq "work" and value eq "x@y.com"]"#),
        expected
    );
    // an `and` inside the brackets is flattened into the same conjunction
    assert_eq!(
        p(r#"emails[type eq "work" and primary eq true].value pr"#),
        Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(Filter::And(vec![
                eq("type", "work"),
                cmp(path("primary"), CompareOp::Eq, CompValue::Bool(true)),
                Filter::Present(path("value"))
            ]))
        }
    );
    // an `or` stays grouped
    assert_eq!(
        p(r#"emails[type eq "a" or type eq "b"].value eq "v""#),
        Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(Filter::And(vec![
                Filter::Or(vec![eq("type", "a"), eq("type", "b")]),
                eq("value", "v")
            ]))
        }
    );
}

#[test]
fn value_filter_entry_point() {
    assert_eq!(
        parse_value_filter(r#"value eq "2819c223""#).unwrap(),
        eq("value", "2819c223")
    );
    assert_eq!(
        parse_value_filter(r#"type eq "work" and primary eq TRUE"#).unwrap(),
        Filter::And(vec![
            eq("type", "work"),
            cmp(path("primary"), CompareOp::Eq, CompValue::Bool(true))
        ])
    );
    let e = parse_value_filter(r#"emails[type eq "work"]"#).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    assert!(parse_value_filter(r#"value eq "x"]"#).is_err());
}

#[test]
fn malformed_filters_are_invalid_filter() {
    let cases = [
        "",
        "   ",
        "userName",
        "userName eq",
        "userName eq ",
        "userName \"x\"",
        "userName equals \"x\"",
        "userName eq x",
        "userName eq 'x'",
        "userName eq \"x",
        "userName eq \"x\" and",
        "userName eq \"x\" or",
        "userName eq \"x\" and or title pr",
        "and userName eq \"x\"",
        "userName eq \"x\" title pr",
        "userName eq \"x\" garbage",
        "userName eq \"x\")",
        "(userName eq \"x\"",
        "((userName eq \"x\")",
        "not userName eq \"x\"",
        "not (userName eq \"x\"",
        "not ()",
        "()",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "emails[]",
        "emails[type eq \"work\" and]",
        "emails[type[value eq \"x\"] eq \"y\"]",
        "emails[type eq \"work\"] eq \"x\"",
        "emails[type eq \"work\"].value",
        "emails[type eq \"work\"].value eq",
        "emails[type eq \"work\"].",
        "type eq \"work\"]",
        "userName eq \"x\" ]",
        "userName eq \"\\x\"",
        "userName eq \"\\u12\"",
        "userName eq \"\\ud800\"",
        "userName eq \"\\u0000\"",
        "userName eq \"a\nb\"",
        "userName eq 01",
        "userName eq 1.",
        "userName eq .5",
        "userName eq 1e",
        "userName eq 1x",
        "userName eq 1e999",
        "userName eq truex",
        "userName eq nul",
        "userName pr pr",
        "userName eqtrue",
        "userNameeq \"x\"",
        "userName eq \"x\"and",
        "active eq trueand title pr",
        "name..familyName pr",
        "name.familyName.x pr",
        "urn:ietf:params:scim:schemas:core:2.0:User: pr",
        "urn: pr",
        "urn:x pr",
        "1userName pr",
        "\"userName\" eq \"x\"",
        "userName eq \"x\" && title pr",
        "userName eq \"x\" || title pr",
        "!(userName eq \"x\")",
        "userName eq \"x\"; DROP TABLE users",
    ];
    assert!(cases.len() >= 30);
    for c in cases {
        assert_invalid(c);
    }
}

#[test]
fn error_details_point_at_the_problem() {
    let d = assert_invalid("userName eq \"x\" garbage");
    assert!(d.contains("position 17"), "{d}");
    assert!(d.contains("garbage"), "{d}");
    let d = assert_invalid("userName eq");
    assert!(d.contains("value"), "{d}");
    let d = assert_invalid("userName foo \"x\"");
    assert!(d.contains("operator"), "{d}");
    let d = assert_invalid("(userName pr");
    assert!(d.contains("')'"), "{d}");
    let d = assert_invalid("emails[type pr");
    assert!(d.contains("']'"), "{d}");
    let d = assert_invalid("not title pr");
    assert!(d.contains("'(' after 'not'"), "{d}");
    let d = assert_invalid("name. familyName pr");
    assert!(d.contains("sub-attribute name after '.'"), "{d}");
    let d = assert_invalid("name.familyName.x pr");
    assert!(d.contains("at most one"), "{d}");
    let d = assert_invalid("emails[x[y pr] pr]");
    assert!(d.contains("not allowed inside"), "{d}");
}

#[test]
fn display_is_canonical_text() {
    let f = p(r#"userName Eq "a\"b" AND (title pr OR not (emails[type eq "work"].value co "x"))"#);
    assert_eq!(
        f.to_string(),
        r#"userName eq "a\"b" and (title pr or not (emails[type eq "work" and value co "x"]))"#
    );
}

// ---- property tests -------------------------------------------------------

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("userName".to_string()),
        Just("emails".to_string()),
        Just("$ref".to_string()),
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
    ]
    .prop_filter("keywords are not attribute names here", |n| {
        !["and", "or", "not"].contains(&n.to_ascii_lowercase().as_str())
    })
}

fn arb_path(relative: bool) -> impl Strategy<Value = AttrPath> {
    let urn = prop_oneof![
        Just(None),
        Just(Some(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string()
        )),
        "urn:[a-z][a-z0-9.]{0,6}(:[a-zA-Z0-9][a-zA-Z0-9._-]{0,5}){0,3}".prop_map(Some),
    ];
    (urn, arb_name(), proptest::option::of(arb_name())).prop_map(move |(urn, name, sub)| {
        if relative {
            AttrPath::simple(name)
        } else {
            AttrPath { urn, name, sub }
        }
    })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>()
            .prop_filter("no NUL", |s| !s.contains('\0'))
            .prop_map(CompValue::String),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Number),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn arb_leaf(relative: bool) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (
            arb_path(relative),
            proptest::sample::select(CompareOp::ALL.to_vec()),
            arb_value()
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        arb_path(relative).prop_map(Filter::Present),
    ]
}

fn arb_tree(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let value_path = (arb_path(false), arb_tree(arb_leaf(true).boxed())).prop_map(|(path, f)| {
        Filter::ValuePath {
            path,
            filter: Box::new(f),
        }
    });
    let leaf = prop_oneof![3 => arb_leaf(false), 1 => value_path].boxed();
    arb_tree(leaf)
}

const TOKENS: &[&str] = &[
    "userName",
    "emails",
    "emails.value",
    "name.familyName",
    "meta.created",
    "members",
    "members.value",
    "members.display",
    "groups.display",
    "active",
    "id",
    "externalId",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "type",
    "value",
    "primary",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "and",
    "or",
    "not",
    "AND",
    "(",
    ")",
    "[",
    "]",
    ".",
    "\"x\"",
    "\"2011-05-13T04:42:34Z\"",
    "\"\"",
    "\"%_\\\\\"",
    "true",
    "false",
    "null",
    "42",
    "-1.5e3",
    "\"",
    "\\",
    "urn:",
    ":",
    "$ref",
    "\u{e9}",
    "\u{130}",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            proptest::sample::select(TOKENS),
            prop_oneof![Just(" "), Just(""), Just("  ")],
        ),
        0..24,
    )
    .prop_map(|toks| {
        toks.into_iter()
            .map(|(t, sep)| format!("{t}{sep}"))
            .collect()
    })
}

fn exercise(input: &str) {
    use crate::schema::{GROUP_TYPE, USER_TYPE};
    let resource = serde_json::json!({
        "id": "2819c223-7f76-453a-919d-413861904646", "userName": "bjensen",
        "emails": [{"value": "b@x.com", "type": "work"}], "members": [{"value": "x"}],
        "meta": {"created": "2011-08-01T18:29:49.793Z", "version": "W/\"1\""}
    });
    let _ = parse_value_filter(input);
    if let Ok(f) = parse(input) {
        for rt in [&USER_TYPE, &GROUP_TYPE] {
            if let Ok(b) = bind(rt, &f) {
                let _ = eval(&b, &resource);
                let c = compile_bound(rt, &b, 2).expect("bound filters compile");
                assert!(c.sql.matches('$').count() >= c.params.len());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(f in arb_filter()) {
        let text = f.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, f, "{}", text);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        exercise(&s);
    }

    #[test]
    fn token_soups_never_panic(s in token_soup()) {
        exercise(&s);
    }

    #[test]
    fn printed_filters_compile_or_fail_cleanly(f in arb_filter()) {
        exercise(&f.to_string());
    }
}
