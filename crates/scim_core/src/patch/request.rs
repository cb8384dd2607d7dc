//! Validation of the PatchOp message (RFC 7644 §3.5.2) into [`PatchOp`]s.
//!
//! Member names (`schemas`, `Operations`, `op`, `path`, `value`) and op
//! names (`add`, Entra's `Add`) are case-insensitive. Paths are parsed and
//! resolved here, so a bad path fails before anything is applied.

use super::path::{parse_path, PatchPath, Target};
use crate::error::{ScimError, ScimResult};
use crate::interrupt;
use crate::limits::{self, Limits};
use crate::schema::{AttrScope, Mutability, ResourceKind, ResourceTypeDef};
use serde_json::Value;

/// The PatchOp message schema URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

/// One validated operation.
#[derive(Clone, Debug)]
pub struct PatchOp {
    pub kind: PatchOpKind,
    /// `None` only for `add`/`replace` (the value then is an object of
    /// attributes).
    pub path: Option<PatchPath>,
    /// Always present for `add`/`replace` (possibly `null`); optional for
    /// `remove` (Entra's legacy member removal carries one).
    pub value: Option<Value>,
}

/// Whether the request only adds or removes given group members: `add`
/// to `members` (with a path, or a path-less value whose only attribute is
/// `members`), and `remove` of `members` naming what to remove (a value
/// filter, or Entra's value list). Such a request is a pure delta: its
/// effect depends neither on the group's other attributes nor on members
/// it does not name, so it commutes with other such requests and the store
/// can apply it without serialising on the group row. `replace` of
/// `members`, and `remove` of all members, are not deltas: two of them
/// racing must not both keep their own additions.
pub fn member_adds_and_removes_only(rt: &ResourceTypeDef, ops: &[PatchOp]) -> bool {
    let members = |path: &PatchPath| match &path.target {
        Target::Attr { attr, filter }
            if rt.kind == ResourceKind::Group
                && attr.scope == AttrScope::Core
                && attr.attr.name == "members"
                && attr.sub.is_none() =>
        {
            Some(filter.is_some())
        }
        _ => None,
    };
    !ops.is_empty()
        && ops.iter().all(|op| match (op.kind, &op.path, &op.value) {
            (PatchOpKind::Add, Some(path), _) => members(path) == Some(false),
            (PatchOpKind::Remove, Some(path), value) => match members(path) {
                Some(filtered) => filtered || value.as_ref().is_some_and(|v| !v.is_null()),
                None => false,
            },
            (PatchOpKind::Add, None, Some(Value::Object(attrs))) => attrs.iter().all(|(k, _)| {
                k.eq_ignore_ascii_case("schemas")
                    || parse_path(rt, k).is_ok_and(|p| members(&p) == Some(false))
            }),
            _ => false,
        })
}

/// Validate a PATCH body. Errors are 400 with `invalidSyntax` (message
/// structure), `invalidPath` (path grammar / unknown attribute),
/// `mutability` (readOnly or immutable target) or `noTarget` (`remove`
/// without `path`); each detail names the offending operation.
///
/// Over [`Limits::max_patch_operations`] operations, or an operation with
/// more than [`Limits::max_operation_values`] values, is 413.
pub fn parse_request(
    rt: &ResourceTypeDef,
    body: &Value,
    limits: &Limits,
) -> ScimResult<Vec<PatchOp>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH request body must be a JSON object"))?;
    let mut schemas = None;
    let mut operations = None;
    for (k, v) in obj {
        let slot = if k.eq_ignore_ascii_case("schemas") {
            &mut schemas
        } else if k.eq_ignore_ascii_case("Operations") {
            &mut operations
        } else {
            // Other top-level members carry no meaning in a PatchOp message.
            continue;
        };
        if slot.replace(v).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "duplicate member '{}' in the PatchOp message",
                k
            )));
        }
    }

    let schema_ok = schemas.and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        })
    });
    if !schema_ok {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must be an array containing \"{}\"",
            PATCH_OP_SCHEMA
        )));
    }

    let ops = match operations {
        None => return Err(ScimError::invalid_syntax("'Operations' is required")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax(
            "'Operations' must contain at least one operation",
        ));
    }
    if ops.len() > limits.max_patch_operations {
        return Err(limits::exceeded(
            "scim.max_patch_operations",
            limits.max_patch_operations,
            "operations in one PATCH request",
            ops.len(),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            interrupt::check();
            let parsed = parse_op(rt, op).map_err(|e| in_op(i, e))?;
            let n = parsed.value.as_ref().map_or(0, value_count);
            if n > limits.max_operation_values {
                return Err(in_op(
                    i,
                    limits::exceeded(
                        "scim.max_operation_values",
                        limits.max_operation_values,
                        "values in one operation",
                        n,
                    ),
                ));
            }
            Ok(parsed)
        })
        .collect()
}

/// How many values an operation carries: the elements of an array value,
/// or of each array in a path-less object value (`{"members": [...]}`).
fn value_count(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o
            .values()
            .map(|x| x.as_array().map_or(1, Vec::len))
            .fold(0usize, usize::saturating_add),
        _ => 1,
    }
}

/// Prefix an error detail with the operation it concerns.
pub(crate) fn in_op(i: usize, e: ScimError) -> ScimError {
    ScimError {
        detail: format!("Operations[{}]: {}", i, e.detail),
        ..e
    }
}

fn parse_op(rt: &ResourceTypeDef, op: &Value) -> ScimResult<PatchOp> {
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("an operation must be a JSON object"))?;
    let (mut name, mut path, mut value) = (None, None, None);
    for (k, v) in obj {
        let slot = if k.eq_ignore_ascii_case("op") {
            &mut name
        } else if k.eq_ignore_ascii_case("path") {
            &mut path
        } else if k.eq_ignore_ascii_case("value") {
            &mut value
        } else {
            // Rejected rather than ignored: a misspelt "value" on a member
            // removal would otherwise empty the group.
            return Err(ScimError::invalid_syntax(format!(
                "unexpected member '{}' (an operation has 'op', 'path' and 'value')",
                k
            )));
        };
        if slot.replace(v).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "duplicate member '{}'",
                k
            )));
        }
    }

    let kind = match name {
        None => return Err(ScimError::invalid_syntax("'op' is required")),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => PatchOpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => PatchOpKind::Remove,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => PatchOpKind::Replace,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown op {} (expected \"add\", \"remove\" or \"replace\")",
                other
            )))
        }
    };

    let path = match path {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_path(rt, s)?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "'path' must be a string, got {}",
                other
            )))
        }
    };

    match (kind, &path, value) {
        (PatchOpKind::Remove, None, _) => {
            return Err(ScimError::no_target(
                "'remove' requires a 'path' (RFC 7644 §3.5.2.2)",
            ))
        }
        (PatchOpKind::Add | PatchOpKind::Replace, _, None) => {
            return Err(ScimError::invalid_syntax(format!(
                "'{}' requires a 'value'",
                kind.as_str()
            )))
        }
        (PatchOpKind::Add | PatchOpKind::Replace, None, Some(v)) if !v.is_object() => {
            return Err(ScimError::invalid_value(format!(
                "without a 'path', the '{}' value must be an object of attributes",
                kind.as_str()
            )))
        }
        _ => {}
    }
    if let Some(p) = &path {
        check_mutability(rt, kind, p)?;
    }
    Ok(PatchOp {
        kind,
        path,
        value: value.cloned(),
    })
}

/// An explicit path may not target a readOnly or immutable attribute
/// (RFC 7644 §3.5.2: 400 `mutability`).
fn check_mutability(rt: &ResourceTypeDef, kind: PatchOpKind, p: &PatchPath) -> ScimResult<()> {
    let Target::Attr { attr, .. } = &p.target else {
        return Ok(());
    };
    for def in std::iter::once(attr.attr).chain(attr.sub) {
        match def.mutability {
            Mutability::ReadOnly => {
                return Err(ScimError::mutability(format!(
                    "'{}' is readOnly and cannot be modified",
                    p.raw
                )))
            }
            Mutability::Immutable => {
                return Err(ScimError::mutability(format!(
                    "'{}' is immutable and cannot be modified",
                    p.raw
                )))
            }
            _ => {}
        }
    }
    if rt.kind == ResourceKind::User && attr.attr.name == "password" && kind == PatchOpKind::Remove
    {
        return Err(ScimError::mutability(
            "'password' cannot be removed, only replaced",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::schema::{GROUP_TYPE, USER_TYPE};
    use serde_json::json;

    fn req(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn err(rt: &ResourceTypeDef, body: Value) -> ScimError {
        parse_request(rt, &body, &Limits::default()).unwrap_err()
    }

    fn deltas_only(rt: &ResourceTypeDef, ops: Value) -> bool {
        let ops = parse_request(rt, &req(ops), &Limits::default()).unwrap();
        member_adds_and_removes_only(rt, &ops)
    }

    #[test]
    fn member_deltas_are_recognised_and_nothing_else() {
        let g = &GROUP_TYPE;
        // IdP shapes: Entra's Add/Remove with value lists, Okta's filter.
        assert!(deltas_only(
            g,
            json!([{"op": "Add", "path": "members", "value": [{"value": "a"}]}])
        ));
        assert!(deltas_only(
            g,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}]}])
        ));
        assert!(deltas_only(
            g,
            json!([{"op": "remove", "path": "members[value eq \"a\"]"},
                                      {"op": "add", "path": "members", "value": [{"value": "b"}]}])
        ));
        assert!(deltas_only(
            g,
            json!([{"op": "add", "value": {"members": [{"value": "a"}]}}])
        ));
        // Not deltas: replacing or clearing the list, other attributes,
        // users.
        assert!(!deltas_only(
            g,
            json!([{"op": "replace", "path": "members", "value": [{"value": "a"}]}])
        ));
        assert!(!deltas_only(
            g,
            json!([{"op": "remove", "path": "members"}])
        ));
        assert!(!deltas_only(
            g,
            json!([{"op": "replace", "value": {"members": [{"value": "a"}]}}])
        ));
        assert!(!deltas_only(
            g,
            json!([{"op": "add", "value": {"members": [{"value": "a"}], "displayName": "x"}}])
        ));
        assert!(!deltas_only(
            g,
            json!([{"op": "add", "path": "members", "value": [{"value": "a"}]},
                                       {"op": "replace", "path": "displayName", "value": "x"}])
        ));
        assert!(!deltas_only(
            &USER_TYPE,
            json!([{"op": "replace", "path": "displayName", "value": "x"}])
        ));
    }

    #[test]
    fn accepts_case_variants_of_members_and_ops() {
        let ops = parse_request(
            &USER_TYPE,
            &json!({
                "SCHEMAS": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "operations": [
                    {"op": "Add", "path": "title", "value": "x"},
                    {"OP": "REPLACE", "Value": {"active": false}},
                    {"Op": "Remove", "Path": "title"},
                    {"op": "replace", "path": null, "value": {"displayName": "y"}}
                ]
            }),
            &Limits::default(),
        )
        .unwrap();
        let kinds: Vec<_> = ops.iter().map(|o| o.kind).collect();
        use PatchOpKind::*;
        assert_eq!(kinds, [Add, Replace, Remove, Replace]);
        assert_eq!(ops[0].path.as_ref().unwrap().raw, "title");
        assert!(ops[1].path.is_none());
        assert_eq!(ops[1].value, Some(json!({"active": false})));
        assert!(ops[2].value.is_none());
        assert!(ops[3].path.is_none());
    }

    #[test]
    fn rejects_malformed_messages_precisely() {
        use ScimType::*;
        let cases: Vec<(Value, ScimType, &str)> = vec![
            (json!([]), InvalidSyntax, "must be a JSON object"),
            (json!("x"), InvalidSyntax, "must be a JSON object"),
            (
                json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                InvalidSyntax,
                "'schemas' must be an array containing",
            ),
            (
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                InvalidSyntax,
                "PatchOp",
            ),
            (
                json!({"schemas": PATCH_OP_SCHEMA, "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                InvalidSyntax,
                "'schemas' must be an array",
            ),
            (
                json!({"schemas": [PATCH_OP_SCHEMA]}),
                InvalidSyntax,
                "'Operations' is required",
            ),
            (
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {}}),
                InvalidSyntax,
                "'Operations' must be an array",
            ),
            (req(json!([])), InvalidSyntax, "at least one operation"),
            (
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [], "operations": []}),
                InvalidSyntax,
                "duplicate member 'operations'",
            ),
            (
                req(json!(["add"])),
                InvalidSyntax,
                "Operations[0]: an operation must be a JSON object",
            ),
            (
                req(json!([{"path": "title", "value": "x"}])),
                InvalidSyntax,
                "Operations[0]: 'op' is required",
            ),
            (
                req(
                    json!([{"op": "add", "path": "title", "value": "x"}, {"op": "move", "path": "title"}]),
                ),
                InvalidSyntax,
                "Operations[1]: unknown op \"move\"",
            ),
            (
                req(json!([{"op": 1, "path": "title"}])),
                InvalidSyntax,
                "unknown op 1",
            ),
            (
                req(json!([{"op": "remove", "path": "title", "vaule": 1}])),
                InvalidSyntax,
                "unexpected member 'vaule'",
            ),
            (
                req(json!([{"op": "add", "OP": "remove", "path": "title"}])),
                InvalidSyntax,
                "duplicate member",
            ),
            (
                req(json!([{"op": "add", "path": "title"}])),
                InvalidSyntax,
                "'add' requires a 'value'",
            ),
            (
                req(json!([{"op": "replace", "value": "x"}])),
                InvalidValue,
                "without a 'path', the 'replace' value must be an object",
            ),
            (
                req(json!([{"op": "remove"}])),
                NoTarget,
                "Operations[0]: 'remove' requires a 'path'",
            ),
            (
                req(json!([{"op": "remove", "path": null}])),
                NoTarget,
                "'remove' requires a 'path'",
            ),
            (
                req(json!([{"op": "remove", "path": 5}])),
                InvalidPath,
                "'path' must be a string",
            ),
            (
                req(json!([{"op": "add", "path": "emails[type eq", "value": "x"}])),
                InvalidPath,
                "unterminated '['",
            ),
            (
                req(json!([{"op": "add", "path": "bogus", "value": "x"}])),
                InvalidPath,
                "Operations[0]: unknown attribute 'bogus'",
            ),
            (
                req(json!([{"op": "replace", "path": "id", "value": "x"}])),
                Mutability,
                "'id' is readOnly",
            ),
            (
                req(
                    json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
                ),
                Mutability,
                "'meta.created' is readOnly",
            ),
            (
                req(json!([{"op": "remove", "path": "meta"}])),
                Mutability,
                "readOnly",
            ),
            (
                req(json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}])),
                Mutability,
                "'groups' is readOnly",
            ),
            (
                req(
                    json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}]),
                ),
                Mutability,
                "manager.displayName' is readOnly",
            ),
            (
                req(json!([{"op": "remove", "path": "password"}])),
                Mutability,
                "'password' cannot be removed",
            ),
        ];
        for (body, ty, needle) in cases {
            let e = err(&USER_TYPE, body.clone());
            assert_eq!((e.status, e.scim_type), (400, Some(ty)), "{body}: {e}");
            assert!(e.detail.contains(needle), "{body}: {}", e.detail);
        }
        let e = err(
            &GROUP_TYPE,
            req(
                json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u2"}]),
            ),
        );
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        assert!(e.detail.contains("immutable"), "{}", e.detail);
        let e = err(
            &GROUP_TYPE,
            req(json!([{"op": "replace", "path": "members.display", "value": "x"}])),
        );
        assert!(e.detail.contains("readOnly"), "{}", e.detail);
    }

    #[test]
    fn operations_and_values_are_limited() {
        let limits = Limits {
            max_patch_operations: 3,
            max_operation_values: 2,
            ..Limits::default()
        };
        let op = json!({"op": "add", "path": "members", "value": [{"value": "a"}]});
        let e = parse_request(&GROUP_TYPE, &req(json!([op, op, op, op])), &limits).unwrap_err();
        assert_eq!(e.status, 413);
        assert!(
            e.detail.contains("scim.max_patch_operations"),
            "{}",
            e.detail
        );
        assert!(parse_request(&GROUP_TYPE, &req(json!([op, op, op])), &limits).is_ok());
        let three = json!([{"value": "a"}, {"value": "b"}, {"value": "c"}]);
        for o in [
            json!({"op": "add", "path": "members", "value": three}),
            json!({"op": "add", "value": {"members": three}}),
        ] {
            let e = parse_request(&GROUP_TYPE, &req(json!([o])), &limits).unwrap_err();
            assert_eq!(e.status, 413);
            assert!(e.detail.starts_with("Operations[0]"), "{}", e.detail);
            assert!(
                e.detail.contains("scim.max_operation_values"),
                "{}",
                e.detail
            );
        }
    }

    #[test]
    fn extra_top_level_members_are_ignored() {
        let ops = parse_request(
            &GROUP_TYPE,
            &json!({"schemas": [PATCH_OP_SCHEMA], "id": "g1", "Operations": [{"op": "remove", "path": "members"}]}),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ops.len(), 1);
    }
}
