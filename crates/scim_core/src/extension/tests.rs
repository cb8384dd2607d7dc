use super::*;
use crate::filter::{compile, matches};
use crate::resource::{normalize, project};
use crate::schema::{GROUP_TYPE, USER_TYPE};
use serde_json::json;

const GX: &str = "urn:arbitex:scim:schemas:extension:Group:2.0";

fn group_def() -> Value {
    json!({"id": GX, "name": "ArbitexGroup", "attributes": [
        {"name": "modelAccess", "type": "string", "multiValued": true},
        {"name": "quotaTokens", "type": "integer"},
        {"name": "complianceBundles", "type": "string", "multiValued": true},
        {"name": "dlpPolicy", "type": "string", "canonicalValues": ["SKIP", "REDACT", "CANCEL", "BLOCK"]},
        {"name": "secret", "type": "string", "mutability": "writeOnly"},
        {"name": "owner", "type": "string", "returned": "request"},
        {"name": "tier", "type": "string", "returned": "always"},
        {"name": "limits", "type": "complex", "multiValued": true, "subAttributes": [
            {"name": "model", "type": "string"}, {"name": "perDay", "type": "integer"}]}]})
}

fn group_type() -> &'static ResourceTypeDef {
    let canonical =
        validate_definition(&GROUP_TYPE, &group_def(), &ExtensionLimits::default()).unwrap();
    tenant_type(
        &GROUP_TYPE,
        &[Registered {
            definition: canonical,
            required: false,
        }],
    )
    .unwrap()
}

fn rejected(def: Value) -> String {
    let e = validate_definition(&USER_TYPE, &def, &ExtensionLimits::default()).unwrap_err();
    assert_eq!(e.status, 400, "{e:?}");
    e.detail
}

#[test]
fn canonical_form_spells_out_every_characteristic() {
    let c = validate_definition(&GROUP_TYPE, &group_def(), &ExtensionLimits::default()).unwrap();
    assert_eq!(c["id"], GX);
    let quota = &c["attributes"][1];
    assert_eq!(quota["type"], "integer");
    assert_eq!(quota["mutability"], "readWrite");
    assert_eq!(quota["returned"], "default");
    assert_eq!(quota["uniqueness"], "none");
    assert_eq!(
        c["attributes"][4]["returned"], "never",
        "writeOnly is never returned"
    );
    // the same definition builds the same interned type
    assert!(std::ptr::eq(group_type(), group_type()));
}

#[test]
fn bad_definitions_are_precise_400s() {
    let one = |attr: Value| json!({"id": "urn:x:y:1.0", "attributes": [attr]});
    let cases = [
        (json!({"attributes": [{"name": "a"}]}), "needs an 'id'"),
        (
            json!({"id": "nope", "attributes": [{"name": "a"}]}),
            "not a valid URN",
        ),
        (
            json!({"id": "urn:x:y'z", "attributes": [{"name": "a"}]}),
            "not a valid URN",
        ),
        (
            json!({"id": "urn:ietf:params:scim:schemas:x", "attributes": [{"name": "a"}]}),
            "reserved",
        ),
        (
            json!({"id": "urn:x:y", "attributes": []}),
            "non-empty 'attributes'",
        ),
        (
            json!({"id": "urn:x:y", "attributes": [{"name": "a"}], "bogus": 1}),
            "unknown member 'bogus'",
        ),
        (one(json!({"name": "1a"})), "not valid"),
        (
            one(json!({"name": "a", "type": "text"})),
            "expected one of string",
        ),
        (
            one(json!({"name": "a", "multiValued": "yes"})),
            "true or false",
        ),
        (
            one(json!({"name": "a", "type": "complex"})),
            "needs subAttributes",
        ),
        (
            one(json!({"name": "a", "subAttributes": [{"name": "b"}]})),
            "only complex",
        ),
        (
            one(json!({"name": "a", "type": "complex", "subAttributes": [
            {"name": "b", "type": "complex", "subAttributes": [{"name": "c"}]}]})),
            "cannot be complex",
        ),
        (
            one(json!({"name": "a", "type": "integer", "canonicalValues": ["1"]})),
            "only supported for string",
        ),
        (
            one(json!({"name": "a", "canonicalValues": ["X", "X"]})),
            "twice",
        ),
        (
            one(json!({"name": "a", "mutability": "writeOnly", "returned": "always"})),
            "never",
        ),
        (
            one(json!({"name": "a", "required": true, "mutability": "readOnly"})),
            "no client",
        ),
        (
            one(json!({"name": "a", "type": "boolean", "uniqueness": "server"})),
            "uniqueness",
        ),
        (
            one(json!({"name": "a", "colour": "red"})),
            "unknown characteristic",
        ),
        (
            one(json!({"name": "userName"})),
            "collides with the core User attribute",
        ),
        (one(json!({"name": "EXTERNALID"})), "collides"),
        (
            json!({"id": "urn:x:y", "attributes": [{"name": "a"}, {"name": "A"}]}),
            "twice",
        ),
    ];
    for (def, want) in cases {
        let d = rejected(def.clone());
        assert!(d.contains(want), "{def}: {d}");
    }
    // displayName is a Group core attribute, but fine in a User extension
    assert!(validate_definition(
        &USER_TYPE,
        &one(json!({"name": "members"})),
        &ExtensionLimits::default()
    )
    .is_ok());
    assert!(validate_definition(
        &GROUP_TYPE,
        &one(json!({"name": "members"})),
        &ExtensionLimits::default()
    )
    .is_err());
}

#[test]
fn size_limits_are_413() {
    let limits = ExtensionLimits {
        max_schemas: 1,
        max_attributes: 3,
        max_definition_bytes: 200,
    };
    let attrs: Vec<Value> = (0..4).map(|i| json!({"name": format!("a{i}")})).collect();
    let e = validate_definition(
        &USER_TYPE,
        &json!({"id": "urn:x:y", "attributes": attrs}),
        &limits,
    )
    .unwrap_err();
    assert_eq!(e.status, 413);
    assert!(
        e.detail.contains("scim.max_extension_attributes"),
        "{}",
        e.detail
    );
    let big =
        json!({"id": "urn:x:y", "description": "x".repeat(300), "attributes": [{"name": "a"}]});
    let e = validate_definition(&USER_TYPE, &big, &limits).unwrap_err();
    assert_eq!(e.status, 413);
    assert!(
        e.detail.contains("scim.max_extension_schema_bytes"),
        "{}",
        e.detail
    );
}

#[test]
fn incompatible_updates_are_named() {
    let old = validate_definition(&GROUP_TYPE, &group_def(), &ExtensionLimits::default()).unwrap();
    let mut def = group_def();
    def["attributes"][1]["type"] = json!("string");
    let new = validate_definition(&GROUP_TYPE, &def, &ExtensionLimits::default()).unwrap();
    assert!(incompatible_change(&old, &new)
        .unwrap()
        .contains("quotaTokens"));
    let mut def = group_def();
    def["attributes"][0]["description"] = json!("permitted models");
    let new = validate_definition(&GROUP_TYPE, &def, &ExtensionLimits::default()).unwrap();
    assert_eq!(incompatible_change(&old, &new), None);
    def["attributes"].as_array_mut().unwrap().remove(3);
    let new = validate_definition(&GROUP_TYPE, &def, &ExtensionLimits::default()).unwrap();
    assert_eq!(
        removed_attributes(&old, &new),
        vec!["dlpPolicy".to_string()]
    );
}

#[test]
fn resources_are_validated_against_the_extension() {
    let rt = group_type();
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", GX, "urn:unknown:but:empty"],
        "displayName": "ds",
        "urn:ARBITEX:scim:schemas:extension:Group:2.0": {"MODELACCESS": ["gpt-4o"], "quotatokens": 5, "dlppolicy": "redact"}});
    let n = normalize(rt, &body).unwrap();
    assert_eq!(
        n.resource["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group", GX])
    );
    assert_eq!(
        n.resource[GX],
        json!({"modelAccess": ["gpt-4o"], "quotaTokens": 5, "dlpPolicy": "REDACT"})
    );
    let bad = |ext: Value| {
        normalize(rt, &json!({"displayName": "x", GX: ext}))
            .unwrap_err()
            .detail
    };
    assert!(bad(json!({"quotaTokens": "5"})).contains("must be an integer"));
    assert!(bad(json!({"quotaTokens": 1.5})).contains("must be an integer"));
    assert!(bad(json!({"modelAccess": "gpt"})).contains("multi-valued"));
    assert!(
        bad(json!({"dlpPolicy": "ALLOW"})).contains("expected one of SKIP, REDACT, CANCEL, BLOCK")
    );
    assert!(bad(json!({"nope": 1})).contains("unknown attribute"));
    assert!(bad(json!({"limits": [{"model": "x", "extra": 1}]})).contains("unknown attribute"));
    // an unknown URN with attributes names the URN
    let e = normalize(
        rt,
        &json!({"displayName": "x", "urn:acme:other:1.0": {"a": 1}}),
    )
    .unwrap_err();
    assert!(e.detail.contains("urn:acme:other:1.0"), "{}", e.detail);
}

#[test]
fn required_extension_and_attributes() {
    let mut def = group_def();
    def["attributes"][1]["required"] = json!(true);
    let canonical = validate_definition(&GROUP_TYPE, &def, &ExtensionLimits::default()).unwrap();
    let rt = tenant_type(
        &GROUP_TYPE,
        &[Registered {
            definition: canonical,
            required: true,
        }],
    )
    .unwrap();
    let e = normalize(rt, &json!({"displayName": "x"})).unwrap_err();
    assert!(
        e.detail.contains("must carry the extension"),
        "{}",
        e.detail
    );
    let e = normalize(rt, &json!({"displayName": "x", GX: {"modelAccess": ["a"]}})).unwrap_err();
    assert!(
        e.detail.contains("quotaTokens' is required"),
        "{}",
        e.detail
    );
    assert!(normalize(rt, &json!({"displayName": "x", GX: {"quotaTokens": 1}})).is_ok());
}

#[test]
fn returned_rules_apply_to_extension_attributes() {
    let rt = group_type();
    let stored = json!({"schemas": [GX], "id": "1", "displayName": "x",
        GX: {"quotaTokens": 5, "secret": "s", "owner": "o", "tier": "gold"}});
    let p = project(rt, &stored, None, None).unwrap();
    assert_eq!(p[GX], json!({"quotaTokens": 5, "tier": "gold"}));
    let p = project(rt, &stored, Some(&format!("{GX}:owner")), None).unwrap();
    assert_eq!(p[GX], json!({"owner": "o", "tier": "gold"}));
    let p = project(rt, &stored, Some(&format!("{GX}:secret,displayName")), None).unwrap();
    assert_eq!(p[GX], json!({"tier": "gold"}));
    let p = project(
        rt,
        &stored,
        None,
        Some(&format!("{GX}:quotaTokens,{GX}:tier")),
    )
    .unwrap();
    assert_eq!(p[GX], json!({"tier": "gold"}), "always cannot be excluded");
}

#[test]
fn filters_on_extension_attributes() {
    let rt = group_type();
    let g = json!({"displayName": "x", GX: {"modelAccess": ["gpt-4o", "claude"], "quotaTokens": 500000,
        "limits": [{"model": "gpt-4o", "perDay": 10}]}});
    let m = |f: &str| matches(rt, &g, f).unwrap();
    assert!(m(&format!("{GX}:quotaTokens gt 1000")));
    assert!(!m(&format!("{GX}:quotaTokens lt 1000")));
    assert!(m(&format!("{GX}:quotaTokens eq 500000.0")));
    assert!(m(&format!(r#"{GX}:modelAccess eq "GPT-4O""#)));
    assert!(m(&format!(r#"{GX}:modelAccess ne "gemini""#)));
    assert!(!m(&format!(r#"{GX}:modelAccess ne "claude""#)));
    assert!(m(&format!(
        r#"{GX}:limits[model sw "gpt" and perDay ge 10]"#
    )));
    assert!(!m(&format!(r#"{GX}:limits[perDay gt 10]"#)));
    assert!(
        m(&format!("{GX}:dlpPolicy ne \"BLOCK\"")),
        "absent: ne holds"
    );
    for (f, want) in [
        (format!(r#"{GX}:quotaTokens eq "5""#), "needs a number"),
        (
            format!("{GX}:quotaTokens co 5"),
            "not supported for numeric",
        ),
        (format!("{GX}:nope eq 1"), "unknown attribute"),
    ] {
        let e = matches(rt, &g, &f).unwrap_err();
        assert!(e.detail.contains(want), "{f}: {}", e.detail);
    }
    // literals are parameters; the text expression is what the index holds
    let c = compile(rt, &format!(r#"{GX}:dlpPolicy eq "Redact""#), 2).unwrap();
    assert_eq!(c.sql, format!("((r.resource->'{GX}'->>'dlpPolicy') IS NOT NULL AND scim.fold((r.resource->'{GX}'->>'dlpPolicy')) = $2)"));
    assert_eq!(c.params, ["redact"]);
    let c = compile(rt, &format!("{GX}:quotaTokens ge 7"), 2).unwrap();
    assert!(c.sql.contains("::numeric >= $2::numeric"), "{}", c.sql);
    assert_eq!(c.params, ["7"]);
    let key = crate::filter::compile_sort_key(rt, &format!("{GX}:quotaTokens")).unwrap();
    assert!(key.contains("::numeric"), "{key}");
    assert!(crate::filter::compile_sort_key(rt, &format!("{GX}:modelAccess")).is_err());
}

#[test]
fn immutable_values_cannot_change_once_set() {
    let def = json!({"id": GX, "attributes": [{"name": "region", "mutability": "immutable"}, {"name": "x"}]});
    let canonical = validate_definition(&GROUP_TYPE, &def, &ExtensionLimits::default()).unwrap();
    let rt = tenant_type(
        &GROUP_TYPE,
        &[Registered {
            definition: canonical,
            required: false,
        }],
    )
    .unwrap();
    let set = json!({GX: {"region": "eu"}});
    assert!(check_immutable(rt, &json!({}), &set).is_ok(), "first value");
    assert!(check_immutable(rt, &set, &json!({GX: {"region": "eu", "x": "1"}})).is_ok());
    let e = check_immutable(rt, &set, &json!({GX: {"region": "us"}})).unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.detail.contains("immutable"), "{}", e.detail);
    assert!(
        check_immutable(rt, &set, &json!({})).is_err(),
        "cannot be removed either"
    );
}

#[test]
fn registered_attributes_resolve_without_their_urn_when_unambiguous() {
    let rt = group_type();
    let r = rt.resolve("QUOTATOKENS").unwrap();
    assert_eq!(r.canonical_path(), format!("{GX}:quotaTokens"));
    assert!(matches(rt, &json!({GX: {"quotaTokens": 7}}), "quotaTokens gt 5").unwrap());
    let n = normalize(rt, &json!({"displayName": "x", "quotaTokens": 3})).unwrap();
    assert_eq!(n.resource[GX], json!({"quotaTokens": 3}));
    // two registered extensions with the name: it must be qualified
    let other = json!({"id": "urn:acme:other:1.0", "attributes": [{"name": "quotaTokens", "type": "integer"}]});
    let defs: Vec<Registered> = [group_def(), other]
        .iter()
        .map(|d| Registered {
            definition: validate_definition(&GROUP_TYPE, d, &ExtensionLimits::default()).unwrap(),
            required: false,
        })
        .collect();
    let both = tenant_type(&GROUP_TYPE, &defs).unwrap();
    assert!(both.resolve("quotaTokens").is_none());
    assert!(both.resolve(&format!("{GX}:quotaTokens")).is_some());
    // the enterprise extension keeps needing its URN
    assert!(USER_TYPE.resolve("department").is_none());
}
