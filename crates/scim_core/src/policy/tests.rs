use super::*;
use crate::error::ScimType;
use proptest::prelude::*;
use serde_json::{json, Value};

fn doc(v: Value) -> PolicyDoc {
    validate(&v).unwrap_or_else(|e| panic!("{v} should be valid: {e}"))
}

fn src<'a>(group: &'a str, policy: &'a str, doc: &'a PolicyDoc) -> Source<'a> {
    Source { group, policy, doc }
}

/// The detail of the `invalidValue` error `validate` must return for `v`.
fn detail(v: Value) -> String {
    let e = validate(&v).expect_err(&format!("{v} should be rejected"));
    assert_eq!(e.status, 400, "{v}");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{v}");
    e.detail
}

fn items(eff: &Effective, section: &str, domain: &str) -> Value {
    eff.to_json()[section][domain].clone()
}

// ---------------------------------------------------------------- validation

#[test]
fn policy_validation_errors_are_precise() {
    let cases: Vec<(Value, &str)> = vec![
        (json!(["allow"]), "policy document must be a JSON object"),
        (json!(null), "policy document must be a JSON object"),
        (
            json!({"allow": {}, "alow": {}}),
            "unknown top-level key \"alow\" (expected one of: allow, deny, require, limits)",
        ),
        (json!({"allow": ["git"]}), "allow must be an object"),
        (json!({"deny": null}), "deny must be an object"),
        (
            json!({"allow": {"skills": "git"}}),
            "allow.skills must be an array of strings or \"*\"",
        ),
        (
            json!({"deny": {"skills": true}}),
            "deny.skills must be an array of strings or \"*\"",
        ),
        (
            json!({"allow": {"skills": ["a", "b", 3]}}),
            "allow.skills[2] must be a string",
        ),
        (
            json!({"allow": {"skills": ["a", null]}}),
            "allow.skills[1] must be a string",
        ),
        (
            json!({"allow": {"": ["a"]}}),
            "allow has an empty domain name",
        ),
        (
            json!({"deny": {" skills": ["a"]}}),
            "deny domain name \" skills\" must not have leading or trailing whitespace",
        ),
        (
            json!({"allow": {"skills": ["git", ""]}}),
            "allow.skills[1] must not be empty",
        ),
        (
            json!({"allow": {"skills": ["git "]}}),
            "allow.skills[0] must not have leading or trailing whitespace",
        ),
        (
            json!({"deny": {"skills": ["git", "*"]}}),
            "deny.skills[1] is \"*\", which is only valid as the whole value \
             (deny.skills: \"*\"), not as an item",
        ),
        (
            json!({"allow": {"skills": ["git", "lint", "hg", "git"]}}),
            "allow.skills[3] duplicates allow.skills[0] (\"git\")",
        ),
        (
            json!({"require": {"hooks": "audit"}}),
            "require.hooks must be an array of strings",
        ),
        (
            json!({"require": {"hooks": ["audit", {"x": 1}]}}),
            "require.hooks[1] must be a string",
        ),
        (
            json!({"require": {"hooks": ["b", "a", "b"]}}),
            "require.hooks[2] duplicates require.hooks[0] (\"b\")",
        ),
        (json!({"require": {"": []}}), "require has an empty name"),
        (json!({"require": []}), "require must be an object"),
        (json!({"limits": 5}), "limits must be an object"),
        (
            json!({"limits": {"max_tokens": "100"}}),
            "limits.max_tokens must be a number",
        ),
        (
            json!({"limits": {"max_tokens": -1}}),
            "limits.max_tokens must be a finite, non-negative number",
        ),
        (
            json!({"limits": {"rate": -0.5}}),
            "limits.rate must be a finite, non-negative number",
        ),
        (json!({"limits": {"": 1}}), "limits has an empty name"),
        (
            json!({"limits": {"max ": 1}}),
            "limits name \"max \" must not have leading or trailing whitespace",
        ),
    ];
    assert!(cases.len() >= 12);
    for (v, want) in cases {
        assert_eq!(detail(v.clone()), want, "for {v}");
    }
}

#[test]
fn policy_validation_non_finite_limits_cannot_get_through() {
    // serde_json cannot hold NaN/inf as a Number; they become null, which
    // is rejected as "not a number".
    let v = json!({"limits": {"x": f64::NAN, "y": f64::INFINITY}});
    assert_eq!(detail(v), "limits.x must be a number");
    // Text that overflows f64 does not even parse.
    assert!(serde_json::from_str::<Value>(r#"{"limits":{"x":1e400}}"#).is_err());
}

#[test]
fn policy_validation_normalises() {
    let d = doc(json!({
        "limits": {"rate": 2.5, "max_tokens": 10.0, "zero": -0.0, "big": 18446744073709551615u64},
        "require": {"hooks": ["z", "a"]},
        "deny": {"models": "*"},
        "allow": {"skills": ["lint", "git"], "models": [], "plugins": "*"},
    }));
    let n = d.to_json();
    assert_eq!(
        n,
        json!({
            "allow": {"models": [], "plugins": "*", "skills": ["git", "lint"]},
            "deny": {"models": "*"},
            "require": {"hooks": ["a", "z"]},
            "limits": {"big": 18446744073709551615u64, "max_tokens": 10, "rate": 2.5, "zero": 0},
        })
    );
    // Key order of the normalised form is sorted too (serde_json keeps
    // insertion order here).
    let keys: Vec<&String> = n["allow"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["models", "plugins", "skills"]);
    assert_eq!(d.limits()["max_tokens"], Limit::Int(10));
    assert_eq!(d.limits()["rate"], Limit::Float(2.5));
    // Round trip.
    assert_eq!(validate(&n).unwrap(), d);
    // Empty document: everything optional.
    assert_eq!(
        doc(json!({})).to_json(),
        json!({"allow": {}, "deny": {}, "require": {}, "limits": {}})
    );
    assert!(d.allows("skills", "git"));
    assert!(!d.allows("skills", "hg"));
    assert!(d.allows("plugins", "anything"));
    assert!(!d.allows("models", "gpt"));
}

// --------------------------------------------------------------------- merge

#[test]
fn policy_merge_allow_is_intersection() {
    let a = doc(json!({"allow": {"skills": ["a", "b", "c"]}}));
    let b = doc(json!({"allow": {"skills": ["b", "c", "d"]}}));
    let c = doc(json!({"allow": {"skills": ["c", "b", "e"]}}));
    let eff = merge(
        &[src("g1", "a", &a), src("g2", "b", &b), src("g3", "c", &c)],
        None,
    );
    assert_eq!(items(&eff, "allow", "skills"), json!(["b", "c"]));
    assert!(eff.allows("skills", "b"));
    assert!(eff.allows("skills", "c"));
    for gone in ["a", "d", "e", "zzz"] {
        assert!(!eff.allows("skills", gone), "{gone}");
    }
    assert_eq!(eff.origin(), Origin::Groups);
    assert_eq!(eff.policies(), ["a", "b", "c"]);
}

#[test]
fn policy_merge_star_is_identity() {
    let star = doc(json!({"allow": {"skills": "*", "models": "*"}}));
    let list = doc(json!({"allow": {"skills": ["x", "y"], "models": "*"}}));
    let eff = merge(&[src("g1", "star", &star), src("g2", "list", &list)], None);
    assert_eq!(items(&eff, "allow", "skills"), json!(["x", "y"]));
    assert!(eff.allows("skills", "x"));
    assert!(!eff.allows("skills", "z"));
    // "*" ∩ "*" = "*".
    assert_eq!(items(&eff, "allow", "models"), json!("*"));
    assert!(eff.allows("models", "any-model"));
    // Order does not matter.
    let rev = merge(&[src("g2", "list", &list), src("g1", "star", &star)], None);
    assert_eq!(rev, eff);
}

#[test]
fn policy_merge_omitted_domain_allows_nothing() {
    let a = doc(json!({"allow": {"skills": "*", "models": ["m1"], "plugins": ["p"]}}));
    let b = doc(json!({"allow": {"skills": ["git"], "plugins": []}}));
    let eff = merge(&[src("g1", "a", &a), src("g2", "b", &b)], None);
    assert_eq!(
        eff.to_json()["allow"],
        json!({"plugins": [], "skills": ["git"]})
    );
    assert!(!eff.allows("models", "m1"), "b omits models");
    assert!(!eff.allows("plugins", "p"), "b allows [] plugins");
    assert!(eff.allows("skills", "git"));
    assert!(!eff.allows("unknown_domain", "git"));
}

#[test]
fn policy_merge_effective_domains_are_those_in_every_policy() {
    // Each policy has a domain the other lacks, and the same number of
    // domains: neither side may be taken as "the" domain list.
    let a = doc(json!({"allow": {"skills": "*", "models": "*"}}));
    let b = doc(json!({"allow": {"skills": ["git"], "plugins": "*"}}));
    let c = doc(json!({"allow": {"skills": "*", "plugins": "*", "models": "*"}}));
    for srcs in [
        vec![src("g1", "a", &a), src("g2", "b", &b), src("g3", "c", &c)],
        vec![src("g2", "b", &b), src("g1", "a", &a), src("g3", "c", &c)],
        vec![src("g3", "c", &c), src("g2", "b", &b), src("g1", "a", &a)],
    ] {
        let eff = merge(&srcs, None);
        assert_eq!(eff.to_json()["allow"], json!({"skills": ["git"]}));
        assert!(!eff.allows("models", "m"));
        assert!(!eff.allows("plugins", "p"));
        assert!(!allows_from(&srcs, None, "models", "m"));
        assert!(!allows_from(&srcs, None, "plugins", "p"));
        assert!(allows_from(&srcs, None, "skills", "git"));
    }
}

#[test]
fn policy_merge_deny_is_union_and_overrides_allow() {
    let a = doc(json!({"allow": {"skills": "*"}, "deny": {"skills": ["x"]}}));
    let b = doc(
        json!({"allow": {"skills": ["x", "y", "z"]}, "deny": {"skills": ["y"], "models": ["m"]}}),
    );
    let eff = merge(&[src("g1", "a", &a), src("g2", "b", &b)], None);
    assert_eq!(
        eff.to_json()["deny"],
        json!({"models": ["m"], "skills": ["x", "y"]})
    );
    assert!(!eff.allows("skills", "x"), "allowed by both, denied by a");
    assert!(!eff.allows("skills", "y"), "allowed by both, denied by b");
    assert!(eff.allows("skills", "z"));
    // A deny in a policy denies even what that same policy allows.
    let self_deny = doc(json!({"allow": {"skills": ["q"]}, "deny": {"skills": ["q"]}}));
    assert!(!merge(&[src("g", "s", &self_deny)], None).allows("skills", "q"));
}

#[test]
fn policy_merge_deny_star_denies_whole_domain() {
    let a = doc(json!({"allow": {"skills": "*", "models": "*"}, "deny": {"skills": ["x"]}}));
    let b = doc(json!({"allow": {"skills": "*", "models": "*"}, "deny": {"skills": "*"}}));
    let eff = merge(&[src("g1", "a", &a), src("g2", "b", &b)], None);
    assert_eq!(eff.to_json()["deny"], json!({"skills": "*"}));
    assert!(!eff.allows("skills", "x"));
    assert!(!eff.allows("skills", "anything"));
    assert!(eff.allows("models", "anything"));
    // Same result whichever side the "*" comes from.
    let rev = merge(&[src("g2", "b", &b), src("g1", "a", &a)], None);
    assert_eq!(rev, eff);
}

#[test]
fn policy_merge_require_is_union() {
    let a = doc(json!({"require": {"hooks": ["b", "a"]}}));
    let b = doc(json!({"require": {"hooks": ["a", "c"], "audit": ["z"]}}));
    let c = doc(json!({}));
    let eff = merge(
        &[src("g1", "a", &a), src("g2", "b", &b), src("g3", "c", &c)],
        None,
    );
    assert_eq!(
        eff.to_json()["require"],
        json!({"audit": ["z"], "hooks": ["a", "b", "c"]})
    );
    assert_eq!(eff.required("hooks"), ["a", "b", "c"]);
    assert!(eff.required("nope").is_empty());
}

#[test]
fn policy_merge_limits_take_minimum() {
    let a = doc(json!({"limits": {"max_tokens": 100, "rate": 3, "only_a": 7}}));
    let b = doc(json!({"limits": {"max_tokens": 50, "rate": 2.5}}));
    let c = doc(json!({"limits": {"max_tokens": 75}}));
    let d = doc(json!({}));
    let srcs = [
        src("g1", "a", &a),
        src("g2", "b", &b),
        src("g3", "c", &c),
        src("g4", "d", &d),
    ];
    let eff = merge(&srcs, None);
    assert_eq!(
        eff.to_json()["limits"],
        json!({"max_tokens": 50, "only_a": 7, "rate": 2.5})
    );
    assert_eq!(eff.limit("max_tokens"), Some(Limit::Int(50)));
    assert_eq!(eff.limit("rate").map(Limit::as_f64), Some(2.5));
    assert_eq!(eff.limit("unset"), None, "nobody sets it: unlimited");
    // A zero limit wins.
    let z = doc(json!({"limits": {"max_tokens": 0}}));
    let eff = merge(&[srcs[0], src("g5", "z", &z)], None);
    assert_eq!(eff.limit("max_tokens"), Some(Limit::Int(0)));
}

#[test]
fn policy_default_only_when_no_bound_policy() {
    let def = doc(json!({"allow": {"skills": ["basic"]}, "limits": {"max_tokens": 10}}));
    let eng = doc(json!({"allow": {"skills": ["git"]}}));

    let eff = merge(&[], Some(("baseline", &def)));
    assert_eq!(eff.origin(), Origin::Default);
    assert_eq!(eff.policies(), ["baseline"]);
    assert!(eff.allows("skills", "basic"));
    assert!(!eff.allows("skills", "git"));
    assert_eq!(eff.limit("max_tokens"), Some(Limit::Int(10)));
    assert!(allows_from(
        &[],
        Some(("baseline", &def)),
        "skills",
        "basic"
    ));

    // A bound policy replaces the default entirely (no intersection with it).
    let eff = merge(&[src("eng", "eng", &eng)], Some(("baseline", &def)));
    assert_eq!(eff.origin(), Origin::Groups);
    assert_eq!(eff.policies(), ["eng"]);
    assert!(eff.allows("skills", "git"));
    assert!(!eff.allows("skills", "basic"));
    assert_eq!(eff.limit("max_tokens"), None);
    assert!(allows_from(
        &[src("eng", "eng", &eng)],
        Some(("baseline", &def)),
        "skills",
        "git"
    ));
}

#[test]
fn policy_no_default_means_nothing() {
    let eff = merge(&[], None);
    assert_eq!(eff, Effective::nothing());
    assert_eq!(eff.origin(), Origin::None);
    assert!(eff.policies().is_empty());
    assert_eq!(
        eff.to_json(),
        json!({"allow": {}, "deny": {}, "require": {}, "limits": {}})
    );
    assert!(!eff.allows("skills", "git"));
    assert!(!allows_from(&[], None, "skills", "git"));
}

#[test]
fn policy_quarantine_disables_everything() {
    let open = doc(json!({"allow": {"skills": "*", "models": "*", "plugins": "*"}}));
    let eng = doc(json!({"allow": {"skills": ["git"], "models": "*"}}));
    let def = doc(json!({"allow": {"skills": "*"}}));
    for quarantine in [
        json!({}),
        json!({"allow": {}}),
        json!({"deny": {"skills": ["x"]}}),
    ] {
        let q = doc(quarantine.clone());
        let srcs = [
            src("everyone", "open", &open),
            src("eng", "eng", &eng),
            src("quarantine", "quarantine", &q),
        ];
        let eff = merge(&srcs, Some(("default", &def)));
        assert!(eff.allow().is_empty(), "{quarantine}");
        for domain in ["skills", "models", "plugins", "other"] {
            for item in ["git", "gpt", "x"] {
                assert!(!eff.allows(domain, item), "{quarantine}: {domain}/{item}");
                assert!(!allows_from(&srcs, Some(("default", &def)), domain, item));
            }
        }
        let ex = explain(&srcs, Some(("default", &def)));
        assert_eq!(
            ex["domains"]["skills"]["items"]["git"]["removed_by"],
            json!([{"group": "quarantine", "policy": "quarantine", "reason": "domain not allowed"}])
        );
    }
}

#[test]
fn policy_user_in_fifty_groups() {
    // Group i allows s00..s99 except s{i}; models "*" except group 7 lists
    // two; group 13 denies s77; group i limits max_tokens to 1000 - i and
    // requires hook h{i % 5}.
    let docs: Vec<PolicyDoc> = (0..50)
        .map(|i| {
            let skills: Vec<String> = (0..100)
                .filter(|&j| j != i)
                .map(|j| format!("s{j:02}"))
                .collect();
            let models = if i == 7 {
                json!(["m1", "m2"])
            } else {
                json!("*")
            };
            let deny = if i == 13 {
                json!({"skills": ["s77"]})
            } else {
                json!({})
            };
            doc(json!({
                "allow": {"skills": skills, "models": models},
                "deny": deny,
                "require": {"hooks": [format!("h{}", i % 5)]},
                "limits": {"max_tokens": 1000 - i},
            }))
        })
        .collect();
    let names: Vec<(String, String)> = (0..50)
        .map(|i| (format!("group{i}"), format!("policy{i:02}")))
        .collect();
    let srcs: Vec<Source> = docs
        .iter()
        .zip(&names)
        .map(|(d, (g, p))| src(g, p, d))
        .collect();
    let eff = merge(&srcs, None);
    let want: Vec<String> = (50..100).map(|j| format!("s{j}")).collect();
    assert_eq!(items(&eff, "allow", "skills"), json!(want));
    assert_eq!(items(&eff, "allow", "models"), json!(["m1", "m2"]));
    assert_eq!(items(&eff, "deny", "skills"), json!(["s77"]));
    assert_eq!(eff.required("hooks"), ["h0", "h1", "h2", "h3", "h4"]);
    assert_eq!(eff.limit("max_tokens"), Some(Limit::Int(951)));
    assert_eq!(eff.policies().len(), 50);
    assert!(eff.allows("skills", "s50"));
    assert!(eff.allows("skills", "s99"));
    assert!(!eff.allows("skills", "s49"));
    assert!(!eff.allows("skills", "s00"));
    assert!(!eff.allows("skills", "s77"));
    assert!(eff.allows("models", "m2"));
    assert!(!eff.allows("models", "m3"));
    for j in 0..100 {
        let item = format!("s{j:02}");
        assert_eq!(
            allows_from(&srcs, None, "skills", &item),
            eff.allows("skills", &item),
            "{item}"
        );
    }
    // Order independence at scale.
    let mut rev = srcs.clone();
    rev.reverse();
    assert_eq!(merge(&rev, None), eff);
}

#[test]
fn policy_same_policy_in_two_groups_and_idempotence() {
    let d = doc(json!({
        "allow": {"skills": ["a", "b"], "models": "*"},
        "deny": {"skills": ["b"]},
        "require": {"hooks": ["h"]},
        "limits": {"n": 3},
    }));
    let one = merge(&[src("g1", "p", &d)], None);
    let two = merge(&[src("g1", "p", &d), src("g2", "p", &d)], None);
    assert_eq!(one, two, "merging a policy with itself changes nothing");
    assert_eq!(two.policies(), ["p"]);
    assert_eq!(two.to_json(), d.to_json());
}

#[test]
fn policy_allows_fails_closed_on_wildcard_and_empty_items() {
    let d = doc(json!({"allow": {"skills": "*"}}));
    let srcs = [src("g", "p", &d)];
    let eff = merge(&srcs, None);
    assert!(eff.allows("skills", "git"));
    assert!(!eff.allows("skills", "*"));
    assert!(!eff.allows("skills", ""));
    assert!(!allows_from(&srcs, None, "skills", "*"));
    assert!(!allows_from(&srcs, None, "skills", ""));
    // Case-sensitive, exact.
    let d = doc(json!({"allow": {"skills": ["Git"]}}));
    let eff = merge(&[src("g", "p", &d)], None);
    assert!(eff.allows("skills", "Git"));
    assert!(!eff.allows("skills", "git"));
    assert!(!eff.allows("Skills", "Git"));
}

#[test]
fn policy_effective_to_json_shape() {
    let a = doc(json!({
        "allow": {"skills": ["git", "lint"], "models": "*"},
        "deny": {"models": ["old"]},
        "require": {"hooks": ["audit"]},
        "limits": {"max_tokens": 100},
    }));
    let b = doc(json!({
        "allow": {"skills": "*", "models": "*", "plugins": "*"},
        "require": {"hooks": ["scan"]},
        "limits": {"max_tokens": 200, "rate": 1.5},
    }));
    let eff = merge(&[src("g1", "a", &a), src("g2", "b", &b)], None);
    assert_eq!(
        eff.to_json(),
        json!({
            "allow": {"models": "*", "skills": ["git", "lint"]},
            "deny": {"models": ["old"]},
            "require": {"hooks": ["audit", "scan"]},
            "limits": {"max_tokens": 100, "rate": 1.5},
        })
    );
}

// ------------------------------------------------------------------- explain

#[test]
fn policy_explain_three_groups() {
    let dev = doc(json!({
        "allow": {"skills": ["git", "lint", "deploy"], "models": "*"},
        "require": {"hooks": ["audit"]},
        "limits": {"max_tokens": 100},
    }));
    let ops = doc(json!({
        "allow": {"skills": ["git", "deploy"]},
        "deny": {"skills": ["deploy"]},
        "require": {"hooks": ["audit", "page"]},
        "limits": {"max_tokens": 10},
    }));
    let restricted = doc(json!({
        "allow": {"skills": "*", "plugins": ["p1"]},
        "deny": {"models": "*"},
    }));
    // Deliberately unsorted: the output is sorted by (group, policy).
    let srcs = [
        src("ops", "ops", &ops),
        src("eng", "dev", &dev),
        src("contractors", "restricted", &restricted),
    ];
    let ex = explain(&srcs, None);
    let eff = merge(&srcs, None);

    assert_eq!(ex["source"], json!("groups"));
    assert_eq!(ex["policies"], json!(["dev", "ops", "restricted"]));
    assert_eq!(
        ex["bindings"],
        json!([
            {"group": "contractors", "policy": "restricted"},
            {"group": "eng", "policy": "dev"},
            {"group": "ops", "policy": "ops"},
        ])
    );
    assert_eq!(ex["effective"], eff.to_json());

    let skills = &ex["domains"]["skills"];
    assert_eq!(skills["allow"], json!(["deploy", "git"]));
    assert_eq!(skills["deny"], json!(["deploy"]));
    assert_eq!(
        skills["allowed_by"],
        json!([
            {"group": "contractors", "policy": "restricted", "via": "*"},
            {"group": "eng", "policy": "dev", "via": "list"},
            {"group": "ops", "policy": "ops", "via": "list"},
        ])
    );
    assert_eq!(skills["removed_by"], json!([]));
    assert_eq!(skills["denied_by"], json!([]));
    assert_eq!(
        skills["items"],
        json!({
            "deploy": {
                "allowed": false,
                "allowed_by": [
                    {"group": "contractors", "policy": "restricted", "via": "*"},
                    {"group": "eng", "policy": "dev", "via": "item"},
                    {"group": "ops", "policy": "ops", "via": "item"},
                ],
                "removed_by": [],
                "denied_by": [{"group": "ops", "policy": "ops", "via": "item"}],
            },
            "git": {
                "allowed": true,
                "allowed_by": [
                    {"group": "contractors", "policy": "restricted", "via": "*"},
                    {"group": "eng", "policy": "dev", "via": "item"},
                    {"group": "ops", "policy": "ops", "via": "item"},
                ],
                "removed_by": [],
                "denied_by": [],
            },
            "lint": {
                "allowed": false,
                "allowed_by": [
                    {"group": "contractors", "policy": "restricted", "via": "*"},
                    {"group": "eng", "policy": "dev", "via": "item"},
                ],
                "removed_by": [{"group": "ops", "policy": "ops", "reason": "item not listed"}],
                "denied_by": [],
            },
        })
    );

    let models = &ex["domains"]["models"];
    assert_eq!(models["allow"], json!([]));
    assert_eq!(models["deny"], json!("*"));
    assert_eq!(
        models["allowed_by"],
        json!([{"group": "eng", "policy": "dev", "via": "*"}])
    );
    assert_eq!(
        models["removed_by"],
        json!([
            {"group": "contractors", "policy": "restricted", "reason": "domain not allowed"},
            {"group": "ops", "policy": "ops", "reason": "domain not allowed"},
        ])
    );
    assert_eq!(
        models["denied_by"],
        json!([{"group": "contractors", "policy": "restricted", "via": "*"}])
    );
    assert_eq!(models["items"], json!({}));

    assert_eq!(
        ex["domains"]["plugins"]["items"]["p1"],
        json!({
            "allowed": false,
            "allowed_by": [{"group": "contractors", "policy": "restricted", "via": "item"}],
            "removed_by": [
                {"group": "eng", "policy": "dev", "reason": "domain not allowed"},
                {"group": "ops", "policy": "ops", "reason": "domain not allowed"},
            ],
            "denied_by": [],
        })
    );
    let domain_keys: Vec<&String> = ex["domains"].as_object().unwrap().keys().collect();
    assert_eq!(domain_keys, ["models", "plugins", "skills"]);

    assert_eq!(
        ex["require"],
        json!({"hooks": {
            "audit": [{"group": "eng", "policy": "dev"}, {"group": "ops", "policy": "ops"}],
            "page": [{"group": "ops", "policy": "ops"}],
        }})
    );
    assert_eq!(
        ex["limits"],
        json!({"max_tokens": {"value": 10, "set_by": [
            {"group": "eng", "policy": "dev", "value": 100},
            {"group": "ops", "policy": "ops", "value": 10},
        ]}})
    );

    // Independent of input order.
    let mut rev = srcs;
    rev.reverse();
    assert_eq!(explain(&rev, None), ex);
}

#[test]
fn policy_explain_default_and_none() {
    let def = doc(json!({"allow": {"skills": ["basic"]}}));
    let ex = explain(&[], Some(("baseline", &def)));
    assert_eq!(ex["source"], json!("default"));
    assert_eq!(
        ex["bindings"],
        json!([{"group": null, "policy": "baseline"}])
    );
    assert_eq!(
        ex["domains"]["skills"]["items"]["basic"],
        json!({
            "allowed": true,
            "allowed_by": [{"group": null, "policy": "baseline", "via": "item"}],
            "removed_by": [],
            "denied_by": [],
        })
    );

    let ex = explain(&[], None);
    assert_eq!(
        ex,
        json!({
            "source": "none",
            "policies": [],
            "bindings": [],
            "effective": {"allow": {}, "deny": {}, "require": {}, "limits": {}},
            "domains": {},
            "require": {},
            "limits": {},
        })
    );
}

// ----------------------------------------------------------------- proptest

const DOMAINS: [&str; 3] = ["a", "b", "c"];
const ITEMS: [&str; 4] = ["w", "x", "y", "z"];

fn item_set() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(json!("*")),
        3 => proptest::sample::subsequence(ITEMS.to_vec(), 0..=ITEMS.len()).prop_map(|v| json!(v)),
    ]
}

fn item_map() -> impl Strategy<Value = Value> {
    proptest::collection::vec(proptest::option::of(item_set()), DOMAINS.len()).prop_map(|sets| {
        let mut m = serde_json::Map::new();
        for (d, s) in DOMAINS.iter().zip(sets) {
            if let Some(s) = s {
                m.insert((*d).to_owned(), s);
            }
        }
        Value::Object(m)
    })
}

fn policy_json() -> impl Strategy<Value = Value> {
    (
        item_map(),
        proptest::option::of(item_map()),
        proptest::option::of(proptest::sample::subsequence(ITEMS.to_vec(), 0..=2)),
        proptest::option::of(0u32..100),
        proptest::option::of(0.0f64..100.0),
    )
        .prop_map(|(allow, deny, hooks, max, rate)| {
            let mut v = json!({"allow": allow});
            if let Some(deny) = deny {
                v["deny"] = deny;
            }
            if let Some(h) = hooks {
                v["require"] = json!({"hooks": h});
            }
            let mut limits = serde_json::Map::new();
            if let Some(m) = max {
                limits.insert("max".into(), json!(m));
            }
            if let Some(r) = rate {
                limits.insert("rate".into(), json!(r));
            }
            v["limits"] = Value::Object(limits);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn policy_allows_from_agrees_with_merge(
        docs in proptest::collection::vec(policy_json(), 0..7),
        default in proptest::option::of(policy_json()),
    ) {
        let docs: Vec<PolicyDoc> = docs.iter().map(|v| validate(v).unwrap()).collect();
        let names: Vec<String> = (0..docs.len()).map(|i| format!("p{i}")).collect();
        let srcs: Vec<Source> = docs
            .iter()
            .zip(&names)
            .map(|(d, n)| Source { group: n, policy: n, doc: d })
            .collect();
        let def = default.map(|v| validate(&v).unwrap());
        let def = def.as_ref().map(|d| ("default", d));

        let eff = merge(&srcs, def);
        let ex = explain(&srcs, def);
        for domain in DOMAINS.iter().chain(&["d"]) {
            for item in ITEMS.iter().chain(&["v", "*", ""]) {
                let fast = allows_from(&srcs, def, domain, item);
                prop_assert_eq!(fast, eff.allows(domain, item), "{}/{}", domain, item);
                // The rule, stated directly.
                let active: Vec<&PolicyDoc> = if srcs.is_empty() {
                    def.map(|(_, d)| d).into_iter().collect()
                } else {
                    docs.iter().collect()
                };
                let rule = !active.is_empty()
                    && !item.is_empty() && *item != "*"
                    && active.iter().all(|d| d.allow().get(*domain).is_some_and(|s| s.contains(item)))
                    && !active.iter().any(|d| d.deny().get(*domain).is_some_and(|s| s.contains(item)));
                prop_assert_eq!(fast, rule, "{}/{}", domain, item);
                let explained = &ex["domains"][*domain]["items"][*item]["allowed"];
                if !explained.is_null() {
                    prop_assert_eq!(explained, &json!(fast));
                }
            }
        }
        // Order independence.
        let mut rev = srcs.clone();
        rev.reverse();
        prop_assert_eq!(merge(&rev, def), eff);
        // Normalised form round-trips.
        for d in &docs {
            prop_assert_eq!(&validate(&d.to_json()).unwrap(), d);
        }
    }
}

/// Rough throughput check: `cargo test --release policy_perf -- --ignored --nocapture`.
#[test]
#[ignore]
fn policy_perf() {
    use std::time::Instant;
    let docs: Vec<PolicyDoc> = (0..10)
        .map(|i| {
            let skills: Vec<String> = (0..40)
                .filter(|j| j % 12 != i)
                .map(|j| format!("skill-{j}"))
                .collect();
            doc(json!({
                "allow": {"skills": skills, "models": "*", "mcp_servers": ["a", "b", "c"]},
                "deny": {"models": [format!("m{i}")]},
                "require": {"hooks": ["audit"]},
                "limits": {"max_tokens": 1000 + i},
            }))
        })
        .collect();
    let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    let srcs: Vec<Source> = docs.iter().zip(&names).map(|(d, n)| src(n, n, d)).collect();
    let n = 200_000;
    let t = Instant::now();
    let mut hits = 0usize;
    for k in 0..n {
        let eff = merge(&srcs, None);
        hits += eff.allows("skills", if k % 2 == 0 { "skill-5" } else { "skill-10" }) as usize;
    }
    let merge_rate = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for k in 0..n {
        hits += allows_from(
            &srcs,
            None,
            "skills",
            if k % 2 == 0 { "skill-5" } else { "skill-22" },
        ) as usize;
    }
    let fast_rate = n as f64 / t.elapsed().as_secs_f64();
    let eff = merge(&srcs, None);
    let t = Instant::now();
    for k in 0..n * 10 {
        hits += eff.allows("skills", if k % 2 == 0 { "skill-5" } else { "skill-22" }) as usize;
    }
    let allows_rate = (n * 10) as f64 / t.elapsed().as_secs_f64();
    assert!(hits > 0);
    println!("merge+allows: {merge_rate:.0}/s  allows_from: {fast_rate:.0}/s  Effective::allows: {allows_rate:.0}/s  ({hits})");
}

mod attribute_terms {
    use super::super::*;
    use serde_json::json;

    fn bound(v: serde_json::Value) -> PolicyDoc {
        validate(&v).unwrap()
    }
    fn term(t: AttributeTerm) -> PolicyDoc {
        PolicyDoc::attribute_term(t)
    }
    fn allow(domain: &str, items: &[&str]) -> PolicyDoc {
        term(AttributeTerm::Allow {
            domain: domain.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        })
    }
    fn rank(name: &str, value: &str, rank: usize) -> PolicyDoc {
        term(AttributeTerm::Rank {
            name: name.into(),
            level: Level {
                rank,
                value: value.into(),
            },
        })
    }
    fn src<'a>(group: &'a str, policy: &'a str, doc: &'a PolicyDoc) -> Source<'a> {
        Source { group, policy, doc }
    }

    #[test]
    fn a_term_constrains_only_its_own_domain() {
        let dev = bound(json!({"allow": {"skills": "*", "models": ["gpt-4o", "o1", "claude"]}}));
        let ma = allow("models", &["gpt-4o", "claude", "gemini"]);
        let s = [
            src("eng", "dev", &dev),
            src("ds", "urn:x:Group:2.0:modelAccess", &ma),
        ];
        let e = merge(&s, None);
        assert_eq!(
            e.to_json()["allow"],
            json!({"skills": "*", "models": ["claude", "gpt-4o"]})
        );
        for (d, i) in [
            ("skills", "git"),
            ("models", "claude"),
            ("models", "o1"),
            ("models", "gemini"),
        ] {
            assert_eq!(allows_from(&s, None, d, i), e.allows(d, i), "{d}/{i}");
        }
        assert!(!e.allows("models", "o1"));
        // only terms: the domains they name, intersected
        let other = allow("models", &["claude"]);
        let s2 = [src("ds", "a", &ma), src("ml", "a", &other)];
        assert_eq!(
            merge(&s2, None).to_json()["allow"],
            json!({"models": ["claude"]})
        );
        assert!(allows_from(&s2, None, "models", "claude"));
        assert!(
            !allows_from(&s2, None, "skills", "git"),
            "no term names skills"
        );
        // a bound policy that omits models still allows no model
        let narrow = bound(json!({"allow": {"skills": "*"}}));
        let s3 = [src("eng", "narrow", &narrow), src("ds", "a", &ma)];
        assert!(!allows_from(&s3, None, "models", "claude"));
        assert!(!merge(&s3, None).allows("models", "claude"));
    }

    #[test]
    fn limits_require_and_levels_merge_most_restrictively() {
        let q1 = term(AttributeTerm::Limit {
            name: "quotaTokens".into(),
            value: Limit::Int(500000),
        });
        let q2 = term(AttributeTerm::Limit {
            name: "quotaTokens".into(),
            value: Limit::Int(1000),
        });
        let r1 = term(AttributeTerm::Require {
            name: "compliance".into(),
            values: vec!["soc2".into()],
        });
        let r2 = term(AttributeTerm::Require {
            name: "compliance".into(),
            values: vec!["hipaa".into(), "soc2".into()],
        });
        let (d1, d2) = (rank("dlp", "REDACT", 1), rank("dlp", "BLOCK", 3));
        let s = [
            src("a", "q", &q1),
            src("b", "q", &q2),
            src("a", "r", &r1),
            src("b", "r", &r2),
            src("a", "d", &d1),
            src("b", "d", &d2),
        ];
        let e = merge(&s, None);
        assert_eq!(e.limit("quotaTokens"), Some(Limit::Int(1000)));
        assert_eq!(e.required("compliance"), ["hipaa", "soc2"]);
        assert_eq!(e.to_json()["levels"], json!({"dlp": "BLOCK"}));
        let x = explain(&s, None);
        assert_eq!(x["levels"]["dlp"]["value"], "BLOCK");
        assert_eq!(x["levels"]["dlp"]["set_by"].as_array().unwrap().len(), 2);
        assert_eq!(
            x["limits"]["quotaTokens"]["set_by"][1],
            json!({"group": "b", "policy": "q", "value": 1000})
        );
        // without levels the output keeps its four keys
        assert!(merge(&[src("a", "q", &q1)], None)
            .to_json()
            .get("levels")
            .is_none());
    }

    #[test]
    fn explain_does_not_blame_a_term_for_other_domains() {
        let dev = bound(json!({"allow": {"skills": ["git"]}}));
        let ma = allow("models", &["gpt-4o"]);
        let x = explain(
            &[src("eng", "dev", &dev), src("ds", "urn:x:modelAccess", &ma)],
            None,
        );
        assert_eq!(x["domains"]["skills"]["removed_by"], json!([]));
        assert_eq!(x["domains"]["skills"]["items"]["git"]["allowed"], true);
        assert_eq!(x["domains"]["models"]["removed_by"][0]["group"], "eng");
        assert_eq!(
            x["domains"]["models"]["allowed_by"][0],
            json!({"group": "ds", "policy": "urn:x:modelAccess", "via": "list"})
        );
    }
}
