//! End-to-end PATCH tests: parse_request + apply, with the request shapes
//! Entra ID and Okta really send (see IDP-REQUESTS.md); the recorded
//! bodies in tests/fixtures/idp/ are shared with the HTTP tests.

use super::*;
use crate::error::{ScimError, ScimResult, ScimType};
use crate::limits::Limits;
use crate::resource::MemberRef;
use crate::schema::{
    ResourceTypeDef, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, GROUP_TYPE, USER_SCHEMA, USER_TYPE,
};
use serde_json::{json, Value};

const ENT: &str = ENTERPRISE_USER_SCHEMA;

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

/// Parse and apply; member lists must not be read.
fn run(rt: &ResourceTypeDef, current: &Value, ops: Value) -> ScimResult<PatchOutcome> {
    let ops = parse_request(rt, &body(ops), &Limits::default())?;
    apply(rt, current, &ops, &mut || {
        panic!("the member list must not be loaded")
    })
}

/// Parse and apply with a stored member list; also returns how many times
/// it was loaded.
fn run_members(
    current: &Value,
    ops: Value,
    stored: Vec<Value>,
) -> (ScimResult<PatchOutcome>, usize) {
    let mut loads = 0;
    let r = parse_request(&GROUP_TYPE, &body(ops), &Limits::default()).and_then(|ops| {
        apply(&GROUP_TYPE, current, &ops, &mut || {
            loads += 1;
            Ok(stored.clone())
        })
    });
    (r, loads)
}

/// A recorded IdP request body (tests/fixtures/idp/<name>.json) with its
/// `{{placeholders}}` filled in (the HTTP tests read the same files).
fn recorded(name: &str, values: &[(&str, &str)]) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/idp/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    assert!(
        !text.contains("{{"),
        "{name}: unfilled placeholder in {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parse and apply a whole recorded request body.
fn ok_recorded(rt: &ResourceTypeDef, current: &Value, body: &Value) -> PatchOutcome {
    let ops = parse_request(rt, body, &Limits::default()).unwrap_or_else(|e| panic!("{body}: {e}"));
    apply(rt, current, &ops, &mut || Ok(vec![])).unwrap_or_else(|e| panic!("{body}: {e}"))
}

fn ok(rt: &ResourceTypeDef, current: &Value, ops: Value) -> PatchOutcome {
    run(rt, current, ops.clone()).unwrap_or_else(|e| panic!("{ops}: {e}"))
}

fn fails(
    rt: &ResourceTypeDef,
    current: &Value,
    ops: Value,
    ty: ScimType,
    needle: &str,
) -> ScimError {
    let e = run(rt, current, ops.clone()).expect_err(&ops.to_string());
    assert_eq!((e.status, e.scim_type), (400, Some(ty)), "{ops}: {e}");
    assert!(
        e.detail.contains(needle),
        "{ops}: detail {:?} lacks {:?}",
        e.detail,
        needle
    );
    e
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example", "type": "home"}
        ]
    })
}

fn group() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering"})
}

fn mref(id: &str) -> MemberRef {
    MemberRef {
        value: id.into(),
        kind: None,
    }
}

// ---------------------------------------------------------------- Entra ID

#[test]
fn entra_replace_active_with_string_boolean() {
    let out = ok_recorded(
        &USER_TYPE,
        &user(),
        &recorded("entra/patch_user_deactivate", &[]),
    );
    assert_eq!(out.resource["active"], json!(false));
    assert!(out.changed);
    assert!(out.members.is_empty() && out.password.is_none());
}

#[test]
fn entra_no_path_replace_with_dotted_and_urn_keys() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "value": {
            "displayName": "Barbara J",
            "name.givenName": "Barb",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984"
        }}]),
    );
    assert_eq!(out.resource["displayName"], "Barbara J");
    assert_eq!(
        out.resource["name"],
        json!({"givenName": "Barb", "familyName": "Jensen"})
    );
    assert_eq!(out.resource[ENT], json!({"employeeNumber": "701984"}));
    assert_eq!(out.resource["schemas"], json!([USER_SCHEMA, ENT]));
}

#[test]
fn entra_add_on_filtered_email_creates_the_missing_element() {
    let mut u = user();
    u.as_object_mut().unwrap().remove("emails");
    let out = ok(
        &USER_TYPE,
        &u,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
    );
    assert_eq!(
        out.resource["emails"],
        json!([{"type": "work", "value": "new@example.com"}])
    );
    // …and a second Add on another sub-attribute lands in the same element.
    let ops = json!([
        {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
        {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"}
    ]);
    let out = ok(&USER_TYPE, &u, ops);
    assert_eq!(
        out.resource["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}])
    );
}

#[test]
fn add_on_filtered_email_that_exists_replaces_its_sub_attribute_only() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "Add", "path": "emails[type eq \"WORK\"].value", "value": "b2@example.com"}]),
    );
    assert_eq!(
        out.resource["emails"],
        json!([
            {"value": "b2@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example", "type": "home"}
        ])
    );
}

#[test]
fn replace_with_eq_filter_creates_a_missing_element_too() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}]),
    );
    assert_eq!(
        out.resource["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    // Whole-element form: filter terms and value are combined.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "addresses[type eq \"home\"]", "value": {"locality": "Paris"}}]),
    );
    assert_eq!(
        out.resource["addresses"],
        json!([{"type": "home", "locality": "Paris"}])
    );
}

#[test]
fn replace_with_a_non_eq_filter_matching_nothing_is_no_target() {
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails[value co \"nowhere\"].type", "value": "other"}]),
        ScimType::NoTarget,
        "no value matches the filter [value co \"nowhere\"] of 'emails[value co \"nowhere\"].type'",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails[type eq \"fax\" or type eq \"other\"].display", "value": "x"}]),
        ScimType::NoTarget,
        "no value matches",
    );
}

#[test]
fn replace_of_a_matched_element_replaces_it_whole() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.org", "type": "home"}}]),
    );
    assert_eq!(
        out.resource["emails"][1],
        json!({"value": "h@x.org", "type": "home"})
    );
    assert_eq!(out.resource["emails"][0]["value"], "bjensen@example.com");
}

#[test]
fn entra_paths_name_family_name_and_enterprise_manager_bare_id() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([
            {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-1"}
        ]),
    );
    assert_eq!(out.resource["name"]["familyName"], "Jensen-Smith");
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "mgr-1"}));
    // A no-path URN key with a bare id, then a manager object with readOnly displayName.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "mgr-2"}}]),
    );
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "mgr-2"}));
    let out = ok(
        &USER_TYPE,
        &out.resource,
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "mgr-3", "displayName": "ignored"}}]),
    );
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "mgr-3"}));
}

#[test]
fn removing_or_blanking_the_manager_unassigns_it_and_drops_the_extension_schema() {
    let mut u = user();
    u[ENT] = json!({"manager": {"value": "m"}});
    u["schemas"] = json!([USER_SCHEMA, ENT]);
    for op in [
        json!({"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}),
        json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": ""}),
        json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": null}),
        json!({"op": "remove", "path": ENT}),
    ] {
        let out = ok(&USER_TYPE, &u, json!([op.clone()]));
        assert!(out.resource.get(ENT).is_none(), "{op}");
        assert_eq!(out.resource["schemas"], json!([USER_SCHEMA]), "{op}");
        assert!(out.changed);
    }
}

#[test]
fn extension_urn_path_with_an_object_value() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": ENT, "value": {"Department": "R&D", "manager": "m9"}}]),
    );
    assert_eq!(
        out.resource[ENT],
        json!({"department": "R&D", "manager": {"value": "m9"}})
    );
    let e = fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": ENT, "value": {"nope": 1}}]),
        ScimType::InvalidValue,
        "unknown attribute",
    );
    assert!(e.detail.contains(":nope'"), "{}", e.detail);
}

#[test]
fn extension_object_as_a_no_path_key_merges_and_null_removes_it() {
    let mut u = user();
    u[ENT] = json!({"department": "Sales", "costCenter": "C1"});
    u["schemas"] = json!([USER_SCHEMA, ENT]);
    let out = ok(
        &USER_TYPE,
        &u,
        json!([{"op": "replace", "value": {ENT: {"department": "R&D", "manager": {"value": "m1"}}}}]),
    );
    assert_eq!(
        out.resource[ENT],
        json!({"department": "R&D", "costCenter": "C1", "manager": {"value": "m1"}})
    );
    let out = ok(
        &USER_TYPE,
        &u,
        json!([{"op": "replace", "path": ENT, "value": null}]),
    );
    assert!(out.resource.get(ENT).is_none());
    let out = ok(
        &USER_TYPE,
        &u,
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m2"}]),
    );
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "m2"}));
}

#[test]
fn entra_roles_add_with_string_primary() {
    let out = ok_recorded(
        &USER_TYPE,
        &user(),
        &recorded("entra/patch_user_add_role", &[]),
    );
    assert_eq!(
        out.resource["roles"],
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}])
    );
}

#[test]
fn entra_recorded_attribute_patch() {
    let out = ok_recorded(
        &USER_TYPE,
        &user(),
        &recorded(
            "entra/patch_user_attributes",
            &[("newMail", "new@example.com"), ("manager", "m-1")],
        ),
    );
    let r = &out.resource;
    assert_eq!(r["displayName"], "Entra Renamed");
    assert_eq!(
        r["name"],
        json!({"givenName": "Ent", "familyName": "Renamed"})
    );
    assert_eq!(
        r["emails"],
        json!([
            {"value": "new@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example", "type": "home"}
        ])
    );
    assert_eq!(
        r[ENT],
        json!({"manager": {"value": "m-1"}, "employeeNumber": "2000"})
    );
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT]));
}

// -------------------------------------------------------------------- Okta

#[test]
fn okta_deactivate_without_path() {
    let out = ok_recorded(
        &USER_TYPE,
        &user(),
        &recorded("okta/patch_user_deactivate", &[]),
    );
    assert_eq!(out.resource["active"], false);
    assert_eq!(out.resource["userName"], "bjensen@example.com");
    assert!(out.changed);
}

#[test]
fn okta_group_rename_ignores_the_id() {
    let out = ok_recorded(
        &GROUP_TYPE,
        &group(),
        &recorded(
            "okta/patch_group_rename",
            &[
                ("group", "00g1emaKYZTWRYYRRTSK"),
                ("displayName", "Engineering (all)"),
            ],
        ),
    );
    assert_eq!(
        out.resource,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering (all)"})
    );
    assert!(out.changed && out.members.is_empty());
}

#[test]
fn okta_remove_filtered_member_and_add_members_in_one_request() {
    let body = recorded(
        "okta/patch_group_remove_and_add_members",
        &[
            ("remove", "00u1"),
            ("add1", "00u2"),
            ("add1Display", "u2@example.com"),
            ("add2", "00u3"),
            ("add2Display", "u3@example.com"),
        ],
    );
    let (out, loads) = run_members(&group(), body["Operations"].clone(), vec![]);
    let out = out.unwrap();
    assert_eq!(loads, 0);
    assert_eq!(
        out.members,
        MemberDelta {
            clear: false,
            add: vec![mref("00u2"), mref("00u3")],
            remove: vec!["00u1".into()]
        }
    );
    assert_eq!(out.resource, group());
    assert!(out.changed);
}

#[test]
fn okta_replace_members_with_the_full_list_clears_then_adds() {
    let out = ok_recorded(
        &GROUP_TYPE,
        &group(),
        &recorded(
            "okta/patch_group_replace_members",
            &[("member1", "a"), ("member2", "b")],
        ),
    );
    assert_eq!(
        out.members,
        MemberDelta {
            clear: true,
            add: vec![mref("a"), mref("b")],
            remove: vec![]
        }
    );
    // A repeated member is added once.
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "a"}]}]),
    );
    assert_eq!(out.members.add, vec![mref("a"), mref("b")]);
    // An empty list just clears.
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "replace", "path": "members", "value": []}]),
    );
    assert!(out.members.clear && out.members.add.is_empty());
}

// ----------------------------------------------------------------- members

#[test]
fn entra_add_several_members_with_null_ref() {
    let out = ok_recorded(
        &GROUP_TYPE,
        &group(),
        &recorded(
            "entra/patch_group_add_members",
            &[("member1", "u0"), ("member2", "u9")],
        ),
    );
    assert_eq!(out.members.add, vec![mref("u0"), mref("u9")]);
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "Add", "path": "members", "value": [
            {"value": "u1", "$ref": null, "display": "User One"},
            {"value": "u2", "$ref": null, "type": "User"}
        ]}]),
    );
    assert_eq!(
        out.members.add,
        vec![
            mref("u1"),
            MemberRef {
                value: "u2".into(),
                kind: Some("User".into())
            }
        ]
    );
    assert!(!out.members.clear && out.members.remove.is_empty());
}

#[test]
fn entra_legacy_and_filtered_member_removal() {
    let out = ok_recorded(
        &GROUP_TYPE,
        &group(),
        &recorded("entra/patch_group_remove_member", &[("member", "u1")]),
    );
    assert_eq!(out.members.remove, ["u1"]);
    assert!(!out.members.clear);
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
    );
    assert_eq!(out.members.remove, ["u1", "u2"]);
    let out = ok_recorded(
        &GROUP_TYPE,
        &group(),
        &recorded(
            "entra/patch_group_remove_member_filter",
            &[("member", "u3")],
        ),
    );
    assert_eq!(out.members.remove, ["u3"]);
    // An `or` of value comparisons is still a plain delta.
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]),
    );
    assert_eq!(out.members.remove, ["a", "b"]);
}

#[test]
fn remove_members_without_filter_or_value_clears() {
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "remove", "path": "members"}]),
    );
    assert_eq!(
        out.members,
        MemberDelta {
            clear: true,
            add: vec![],
            remove: vec![]
        }
    );
}

#[test]
fn member_ops_net_in_order() {
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([
            {"op": "remove", "path": "members[value eq \"x\"]"},
            {"op": "add", "path": "members", "value": [{"value": "x"}]},
            {"op": "add", "path": "members", "value": [{"value": "y"}]},
            {"op": "remove", "path": "members", "value": [{"value": "y"}]}
        ]),
    );
    assert_eq!(out.members.add, [mref("x")]);
    assert_eq!(out.members.remove, ["y"]);
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"c\"]"}
        ]),
    );
    assert_eq!(
        out.members,
        MemberDelta {
            clear: true,
            add: vec![mref("b")],
            remove: vec![]
        }
    );
}

#[test]
fn complex_member_filter_loads_members_once_and_sees_earlier_ops() {
    let stored = vec![
        json!({"value": "u1", "type": "User", "display": "One"}),
        json!({"value": "g1", "type": "Group", "display": "Sub"}),
        json!({"value": "g2", "type": "Group", "display": "Sub2"}),
    ];
    let (out, loads) = run_members(
        &group(),
        json!([
            {"op": "remove", "path": "members[value eq \"g2\"]"},
            {"op": "add", "path": "members", "value": [{"value": "g3", "type": "Group"}]},
            {"op": "remove", "path": "members[type eq \"group\"]"},
            {"op": "remove", "path": "members[display sw \"O\"]"}
        ]),
        stored,
    );
    let out = out.unwrap();
    assert_eq!(loads, 1);
    // g3 was added, then matched type eq "group": add-then-remove nets to a
    // remove. g2 was removed before and no longer matches; u1 matches sw "O".
    assert!(out.members.add.is_empty());
    assert_eq!(out.members.remove, ["g2", "g1", "g3", "u1"]);
}

#[test]
fn removing_non_members_succeeds_as_a_no_op() {
    let (out, loads) = run_members(
        &group(),
        json!([{"op": "remove", "path": "members[display eq \"nobody\"]"}]),
        vec![json!({"value": "u1", "type": "User", "display": "One"})],
    );
    let out = out.unwrap();
    assert_eq!(loads, 1);
    assert!(out.members.is_empty());
    assert!(!out.changed);
    // Removing an id that is not a member is a (harmless) DELETE of nothing.
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "remove", "path": "members[value eq \"ghost\"]"}]),
    );
    assert_eq!(out.members.remove, ["ghost"]);
}

#[test]
fn load_members_errors_propagate() {
    let ops = parse_request(
        &GROUP_TYPE,
        &body(json!([{"op": "remove", "path": "members[type eq \"User\"]"}])),
        &Limits::default(),
    )
    .unwrap();
    let e = apply(&GROUP_TYPE, &group(), &ops, &mut || {
        Err(ScimError::new(500, None, "db down"))
    })
    .unwrap_err();
    assert_eq!(e.status, 500);
    assert!(e.detail.contains("db down"));
}

#[test]
fn no_path_members_and_display_name_on_groups() {
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "add", "value": {"members": [{"value": "u9"}], "displayName": "Eng"}}]),
    );
    assert_eq!(out.members.add, [mref("u9")]);
    assert_eq!(out.resource["displayName"], "Eng");
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "replace", "value": {"members": [{"value": "u9"}]}}]),
    );
    assert!(out.members.clear);
    assert_eq!(out.members.add, [mref("u9")]);
}

#[test]
fn bad_member_operations() {
    fails(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
        ScimType::InvalidValue,
        "'members[0].value' is required",
    );
    fails(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "add", "path": "members", "value": "u1"}]),
        ScimType::InvalidValue,
        "'members' must be an array of member objects",
    );
    fails(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": {"value": "u2"}}]),
        ScimType::InvalidPath,
        "members are added or replaced as whole values",
    );
    fails(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}]),
        ScimType::Mutability,
        "readOnly",
    );
    fails(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "remove", "path": "displayName"}]),
        ScimType::InvalidValue,
        "'displayName' is required",
    );
    fails(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "replace", "path": "displayName", "value": 7}]),
        ScimType::InvalidValue,
        "'displayName' must be a string",
    );
}

// ------------------------------------------------------------- RFC rules

#[test]
fn add_to_multi_valued_appends_without_duplicates() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "BJENSEN@example.com", "type": "work"},
            {"value": "third@example.com", "type": "other"}
        ]}]),
    );
    let emails = out.resource["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(
        emails[0],
        json!({"value": "bjensen@example.com", "type": "work", "primary": true})
    );
    assert_eq!(
        emails[2],
        json!({"value": "third@example.com", "type": "other"})
    );
    // A single object is accepted as a one-element list.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": {"value": "x@y.z"}}]),
    );
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), 3);
}

#[test]
fn primary_true_clears_primary_on_the_others() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.org", "primary": true}]}]),
    );
    let emails = out.resource["emails"].as_array().unwrap();
    assert_eq!(emails.iter().filter(|e| e["primary"] == true).count(), 1);
    assert_eq!(emails[2]["primary"], true);
    assert!(emails[0].get("primary").is_none());
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "true"}]),
    );
    assert_eq!(out.resource["emails"][1]["primary"], true);
    assert!(out.resource["emails"][0].get("primary").is_none());
    // Re-adding an existing value with primary moves the flag to it.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "babs@home.example", "type": "home", "primary": true}]}]),
    );
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), 2);
    assert_eq!(out.resource["emails"][1]["primary"], true);
    assert!(out.resource["emails"][0].get("primary").is_none());
    // Two primaries in one value list is the client's contradiction.
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}]),
        ScimType::InvalidValue,
        "primary",
    );
}

#[test]
fn add_and_replace_on_complex_single_valued_merge_sub_attributes() {
    for op in ["add", "replace"] {
        let out = ok(
            &USER_TYPE,
            &user(),
            json!([{"op": op, "path": "name", "value": {"givenName": "B", "middleName": "M"}}]),
        );
        assert_eq!(
            out.resource["name"],
            json!({"givenName": "B", "familyName": "Jensen", "middleName": "M"}),
            "{op}"
        );
    }
}

#[test]
fn replace_multi_valued_replaces_the_list_and_null_unassigns() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.org"}]}]),
    );
    assert_eq!(out.resource["emails"], json!([{"value": "only@x.org"}]));
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails", "value": null}]),
    );
    assert!(out.resource.get("emails").is_none());
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "displayName", "value": null}]),
    );
    assert!(out.resource.get("displayName").is_none());
}

#[test]
fn add_and_replace_simple_attributes() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([
            {"op": "add", "path": "title", "value": "Engineer"},
            {"op": "add", "path": "displayName", "value": "B. Jensen"},
            {"op": "Add", "path": "externalId", "value": "ext-1"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "value": "BJ"}
        ]),
    );
    assert_eq!(out.resource["title"], "Engineer");
    assert_eq!(out.resource["displayName"], "B. Jensen");
    assert_eq!(out.resource["externalId"], "ext-1");
    assert_eq!(out.resource["nickName"], "BJ");
}

#[test]
fn sub_attribute_of_multi_valued_without_filter_applies_to_every_element() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "emails.display", "value": "E"}]),
    );
    assert!(out.resource["emails"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["display"] == "E"));
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "emails.type"}]),
    );
    assert!(out.resource["emails"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e.get("type").is_none()));
    // With no element yet, one is created.
    let out = ok(
        &USER_TYPE,
        &group_less_user(),
        json!([{"op": "add", "path": "emails.value", "value": "a@b.c"}]),
    );
    assert_eq!(out.resource["emails"], json!([{"value": "a@b.c"}]));
}

fn group_less_user() -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": "x"})
}

#[test]
fn remove_rules() {
    // Filtered element.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    );
    assert_eq!(
        out.resource["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );
    // Filtered sub-attribute: the element stays.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
    );
    assert_eq!(
        out.resource["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work"})
    );
    // Last element gone: the attribute is unassigned.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"work\" or type eq \"home\"]"}]),
    );
    assert!(out.resource.get("emails").is_none());
    // Sub-attribute of a complex single value; whole attribute.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "active"}]),
    );
    assert_eq!(out.resource["name"], json!({"familyName": "Jensen"}));
    assert!(out.resource.get("active").is_none());
    // Removing what is not there succeeds and changes nothing.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "title"}, {"op": "remove", "path": "name.middleName"}]),
    );
    assert_eq!(out.resource, user());
    assert!(!out.changed);
    // Remove with a value list on a multi-valued attribute removes those values.
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@home.example"}]}]),
    );
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn remove_with_a_filter_matching_nothing_is_no_target() {
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
        ScimType::NoTarget,
        "no value matches the filter [type eq \"other\"] of 'emails[type eq \"other\"]'",
    );
    fails(
        &USER_TYPE,
        &group_less_user(),
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"fax\"].value"}]),
        ScimType::NoTarget,
        "no value matches",
    );
}

#[test]
fn required_attributes_cannot_be_removed() {
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "remove", "path": "userName"}]),
        ScimType::InvalidValue,
        "'userName' is required",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "userName", "value": null}]),
        ScimType::InvalidValue,
        "'userName' is required",
    );
}

#[test]
fn password_goes_to_the_outcome_never_the_resource() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "password", "value": "n3w-Secret"}]),
    );
    assert_eq!(out.password.as_deref(), Some("n3w-Secret"));
    assert!(out.resource.get("password").is_none());
    assert_eq!(out.resource, user());
    assert!(out.changed);
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "value": {"password": "other", "active": false}}]),
    );
    assert_eq!(out.password.as_deref(), Some("other"));
    assert!(out.resource.get("password").is_none());
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "password", "value": 12345}]),
        ScimType::InvalidValue,
        "'password' must be a non-empty string",
    );
}

#[test]
fn read_only_keys_in_a_no_path_value_are_ignored() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "value": {
            "id": "someone-else",
            "meta": {"resourceType": "User", "version": "W/\"9\""},
            "groups": [{"value": "g1"}],
            "schemas": [USER_SCHEMA],
            "displayName": "Changed"
        }}]),
    );
    assert_eq!(out.resource["displayName"], "Changed");
    assert!(
        out.resource.get("id").is_none()
            && out.resource.get("meta").is_none()
            && out.resource.get("groups").is_none()
    );
}

#[test]
fn explicit_paths_to_read_only_attributes_are_mutability_errors() {
    for path in [
        "id",
        "meta.lastModified",
        "groups",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    ] {
        fails(
            &USER_TYPE,
            &user(),
            json!([{"op": "replace", "path": path, "value": "x"}]),
            ScimType::Mutability,
            "is readOnly",
        );
    }
}

#[test]
fn unknown_attributes_and_wrong_types_are_precise() {
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "favouriteColour", "value": "x"}]),
        ScimType::InvalidPath,
        "unknown attribute 'favouriteColour'",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "value": {"favouriteColour": "x"}}]),
        ScimType::InvalidValue,
        "value member 'favouriteColour'",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "replace", "path": "active", "value": "yes"}]),
        ScimType::InvalidValue,
        "'active' must be a boolean",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": 5}]),
        ScimType::InvalidValue,
        "'emails[type eq \"work\"].value' must be a string",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "name", "value": "Bob"}]),
        ScimType::InvalidValue,
        "'name' must be an object",
    );
    fails(
        &USER_TYPE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": [{"valu": "x"}]}]),
        ScimType::InvalidValue,
        "unknown attribute 'emails[0].valu'",
    );
}

#[test]
fn all_or_nothing_and_errors_name_the_operation() {
    let e = fails(
        &USER_TYPE,
        &user(),
        json!([
            {"op": "replace", "path": "displayName", "value": "fine"},
            {"op": "replace", "path": "active", "value": 3}
        ]),
        ScimType::InvalidValue,
        "Operations[1]: 'active' must be a boolean",
    );
    assert!(!e.detail.contains("Operations[0]"));
}

#[test]
fn operations_apply_in_order() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([
            {"op": "remove", "path": "emails"},
            {"op": "add", "path": "emails", "value": [{"value": "z@z.z"}]},
            {"op": "replace", "path": "title", "value": "A"},
            {"op": "replace", "path": "title", "value": "B"}
        ]),
    );
    assert_eq!(out.resource["emails"], json!([{"value": "z@z.z"}]));
    assert_eq!(out.resource["title"], "B");
}

#[test]
fn an_identical_replace_is_not_a_change() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([
            {"op": "replace", "path": "displayName", "value": "Babs"},
            {"op": "Replace", "path": "active", "value": "True"},
            {"op": "add", "path": "emails", "value": [{"value": "babs@home.example", "type": "home"}]}
        ]),
    );
    assert_eq!(out.resource, user());
    assert!(!out.changed);
    let out = ok(
        &GROUP_TYPE,
        &group(),
        json!([{"op": "replace", "value": {"displayName": "Engineering"}}]),
    );
    assert!(!out.changed);
}

#[test]
fn attribute_names_in_paths_and_values_are_case_insensitive() {
    let out = ok(
        &USER_TYPE,
        &user(),
        json!([
            {"op": "replace", "path": "DISPLAYNAME", "value": "x"},
            {"op": "replace", "path": "Name.GivenName", "value": "y"},
            {"op": "replace", "value": {"NickName": "n", "EMAILS": [{"Value": "e@x.org", "TYPE": "work"}]}}
        ]),
    );
    assert_eq!(out.resource["displayName"], "x");
    assert_eq!(out.resource["name"]["givenName"], "y");
    assert_eq!(out.resource["nickName"], "n");
    assert_eq!(
        out.resource["emails"],
        json!([{"value": "e@x.org", "type": "work"}])
    );
}

// ---------------------------------------------------------------- proptest

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const USER_PATHS: &[&str] = &[
        "userName",
        "displayName",
        "active",
        "title",
        "name",
        "name.givenName",
        "emails",
        "emails.value",
        "emails[type eq \"work\"]",
        "emails[type eq \"work\"].value",
        "emails[primary eq true].primary",
        "emails[value co \"x\"]",
        "phoneNumbers[type eq \"mobile\"].value",
        "externalId",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ];
    const GROUP_PATHS: &[&str] = &[
        "displayName",
        "externalId",
        "members",
        "members[value eq \"u1\"]",
        "members[type eq \"User\"]",
        "members[value eq \"a\" or value eq \"b\"]",
        "members[display sw \"O\"]",
    ];
    const BAD_PATHS: &[&str] = &[
        "members.value",
        "id",
        "meta",
        "groups",
        "password",
        "emails[",
        "emails]",
        "[",
        "",
        ".",
        "emails[type eq \"a\"].",
        "name..x",
        "x[y eq 1]",
        "members[value eq]",
    ];

    fn path(good: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
        let p = prop_oneof![
            8 => prop::sample::select(good),
            1 => prop::sample::select(BAD_PATHS),
        ];
        prop::option::weighted(0.85, p.prop_map(String::from))
    }

    fn value() -> impl Strategy<Value = Option<Value>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop::sample::select(vec!["", "x", "False", "true", "u1", "a", "work", "a@b.c"])
                .prop_map(|s| json!(s)),
        ];
        let v = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "value",
                            "type",
                            "primary",
                            "display",
                            "givenName",
                            "displayName",
                            "active",
                            "id",
                            "members",
                            "name.familyName",
                            "emails",
                            "$ref",
                            "bogus",
                        ]),
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        });
        prop::option::weighted(0.95, v)
    }

    fn ops(good: &'static [&'static str]) -> impl Strategy<Value = Value> {
        let op = (
            prop_oneof![10 => prop::sample::select(vec!["add", "Remove", "REPLACE"]), 1 => Just("move")],
            path(good),
            value(),
        )
            .prop_map(|(op, p, v)| {
                let mut o = serde_json::Map::new();
                o.insert("op".into(), json!(op));
                if let Some(p) = p {
                    o.insert("path".into(), json!(p));
                }
                if let Some(v) = v {
                    o.insert("value".into(), v);
                }
                Value::Object(o)
            });
        prop::collection::vec(op, 1..4).prop_map(Value::Array)
    }

    /// Never panics; on success the outcome is canonical and consistent.
    fn check(rt: &ResourceTypeDef, current: Value, ops: Value) -> Result<(), TestCaseError> {
        let stored = vec![
            json!({"value": "u1", "type": "User", "display": "One"}),
            json!({"value": "g1", "type": "Group", "display": "Sub"}),
        ];
        let Ok(parsed) = parse_request(rt, &body(ops), &Limits::default()) else {
            return Ok(());
        };
        let mut loads = 0;
        let r = apply(rt, &current, &parsed, &mut || {
            loads += 1;
            Ok(stored.clone())
        });
        prop_assert!(loads <= 1);
        match r {
            Err(e) => prop_assert!(e.status == 400 && e.scim_type.is_some(), "{e}"),
            Ok(out) => {
                // The result is canonical: normalising it again is the identity.
                let again = crate::resource::normalize(rt, &out.resource).unwrap();
                prop_assert_eq!(&again.resource, &out.resource);
                prop_assert!(out.resource.get("password").is_none());
                prop_assert!(out.resource.get("members").is_none());
                let d = &out.members;
                prop_assert!(d.add.iter().all(|m| !d.remove.contains(&m.value)));
                prop_assert!(!d.clear || d.remove.is_empty());
                if !out.changed {
                    prop_assert_eq!(&out.resource, &current);
                    prop_assert!(d.is_empty() && out.password.is_none());
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn random_user_op_lists_never_panic_and_keep_invariants(ops in ops(USER_PATHS)) {
            check(&USER_TYPE, user(), ops)?;
        }

        #[test]
        fn random_group_op_lists_never_panic_and_keep_invariants(ops in ops(GROUP_PATHS)) {
            check(&GROUP_TYPE, group(), ops)?;
        }
    }
}
