//! Bulk (RFC 7644 §3.7): parse a BulkRequest, order its operations so
//! every `bulkId:` reference is resolved before use, stop after
//! `failOnErrors` errors, and assemble the BulkResponse. Executing one
//! operation is the caller's job (the extension runs each as its own
//! sub-transaction through `scim_http`), so this module is pure.

use crate::error::{ScimError, ScimResult};
use crate::interrupt;
use crate::limits::{self, Limits};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const REF_PREFIX: &str = "bulkId:";

#[derive(Clone, Debug, PartialEq)]
pub struct BulkOp {
    pub method: String,
    pub path: String,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub data: Option<Value>,
}

#[derive(Debug, PartialEq)]
pub struct BulkRequest {
    pub fail_on_errors: Option<usize>,
    pub ops: Vec<BulkOp>,
}

/// What executing one operation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct OpResult {
    pub status: u16,
    pub location: Option<String>,
    pub version: Option<String>,
    /// Response body: kept for errors (RFC 7644 §3.7.3 `response`).
    pub body: Option<Value>,
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// Validate a BulkRequest. More than [`Limits::max_bulk_operations`]
/// operations, or more than [`Limits::max_password_hashes`] operations
/// that set a password (each costs an argon2id hash), is 413 before any
/// operation runs.
pub fn parse(body: &Value, limits: &Limits) -> ScimResult<BulkRequest> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    let schemas_ok = field(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(BULK_REQUEST_SCHEMA)));
    if !schemas_ok {
        return Err(ScimError::invalid_value(format!(
            "'schemas' must contain {BULK_REQUEST_SCHEMA}"
        )));
    }
    let fail_on_errors =
        match field(obj, "failOnErrors") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                ScimError::invalid_value("'failOnErrors' must be a positive integer")
            })? as usize),
        };
    let ops = field(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_value("'Operations' must be an array"))?;
    if ops.len() > limits.max_bulk_operations {
        return Err(limits::exceeded(
            "scim.max_bulk_operations, maxOperations",
            limits.max_bulk_operations,
            "operations in one Bulk request",
            ops.len(),
        ));
    }
    let mut parsed = Vec::with_capacity(ops.len());
    let mut seen = std::collections::HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        let o = op.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!("Operations[{i}] must be an object"))
        })?;
        let text = |k: &str| -> ScimResult<Option<String>> {
            match field(o, k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "Operations[{i}].{k} must be a string"
                ))),
            }
        };
        let method = text("method")?
            .ok_or_else(|| ScimError::invalid_value(format!("Operations[{i}].method is required")))?
            .to_ascii_uppercase();
        if !matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}].method must be POST, PUT, PATCH or DELETE"
            )));
        }
        let path = text("path")?
            .ok_or_else(|| ScimError::invalid_value(format!("Operations[{i}].path is required")))?;
        let bulk_id = text("bulkId")?;
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}].bulkId is required for POST"
            )));
        }
        if let Some(b) = &bulk_id {
            if !seen.insert(b.clone()) {
                return Err(ScimError::invalid_value(format!(
                    "bulkId '{b}' is used by more than one operation"
                )));
            }
        }
        let data = field(o, "data").cloned();
        if method != "DELETE" && data.is_none() {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}].data is required for {method}"
            )));
        }
        parsed.push(BulkOp {
            method,
            path,
            bulk_id,
            version: text("version")?,
            data,
        });
    }
    let passwords = parsed.iter().filter(|op| sets_password(op)).count();
    if passwords > limits.max_password_hashes {
        return Err(limits::exceeded(
            "scim.max_password_hashes",
            limits.max_password_hashes,
            "operations setting a password in one Bulk request",
            passwords,
        ));
    }
    Ok(BulkRequest {
        fail_on_errors,
        ops: parsed,
    })
}

/// Whether an operation may set a password: a `password` member in a
/// POST/PUT body, or a PATCH operation whose path or value names it.
fn sets_password(op: &BulkOp) -> bool {
    let has_password = |v: &Value| {
        v.as_object()
            .is_some_and(|o| o.keys().any(|k| is_password_name(k)))
    };
    let Some(data) = &op.data else {
        return false;
    };
    if op.method != "PATCH" {
        return has_password(data);
    }
    let ops = data
        .as_object()
        .and_then(|o| field(o, "Operations"))
        .and_then(Value::as_array);
    ops.is_some_and(|ops| {
        ops.iter().filter_map(Value::as_object).any(|o| {
            field(o, "path")
                .and_then(Value::as_str)
                .is_some_and(is_password_name)
                || field(o, "value").is_some_and(has_password)
        })
    })
}

fn is_password_name(name: &str) -> bool {
    let name = name.rsplit(':').next().unwrap_or(name);
    name.trim().eq_ignore_ascii_case("password")
}

/// `bulkId:x` references in a string.
fn ref_in(s: &str) -> Option<&str> {
    s.find(REF_PREFIX).map(|i| {
        let rest = &s[i + REF_PREFIX.len()..];
        let end = rest.find(['/', '"', '?']).unwrap_or(rest.len());
        &rest[..end]
    })
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(r) = ref_in(s) {
                out.push(r.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Every bulkId an operation refers to (path and data).
pub fn references(op: &BulkOp) -> Vec<String> {
    let mut out = vec![];
    if let Some(r) = ref_in(&op.path) {
        out.push(r.to_string());
    }
    if let Some(d) = &op.data {
        collect_refs(d, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn substitute_str(s: &str, ids: &HashMap<String, String>) -> String {
    match ref_in(s) {
        Some(r) => match ids.get(r) {
            Some(id) => s.replacen(&format!("{REF_PREFIX}{r}"), id, 1),
            None => s.to_string(),
        },
        None => s.to_string(),
    }
}

fn substitute(v: &Value, ids: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute_str(s, ids)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, ids)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute(x, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn error_result(status: u16, scim_type: Option<crate::ScimType>, detail: String) -> OpResult {
    OpResult {
        status,
        location: None,
        version: None,
        body: Some(ScimError::new(status, scim_type, detail).to_body()),
    }
}

/// Run the operations. `exec(method, path, version, data)` performs one
/// (atomically). An operation whose references are not yet resolved waits
/// for the operations that define them; references that can never resolve
/// (undefined, failed, or circular) fail that operation with 409.
pub fn run(
    req: &BulkRequest,
    mut exec: impl FnMut(&str, &str, Option<&str>, Option<&Value>) -> OpResult,
) -> Value {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut failed_ids: HashSet<String> = HashSet::new();
    let defined: HashSet<&str> = req
        .ops
        .iter()
        .filter_map(|o| o.bulk_id.as_deref())
        .collect();
    // Each operation's references, found once (a round only looks them up).
    let refs: Vec<Vec<String>> = req.ops.iter().map(references).collect();
    let mut done: Vec<Option<Value>> = vec![None; req.ops.len()];
    let mut pending: Vec<usize> = (0..req.ops.len()).collect();
    let mut errors = 0usize;
    let over = |errors: usize| req.fail_on_errors.is_some_and(|n| errors >= n);

    while !pending.is_empty() && !over(errors) {
        let ready: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| {
                refs.get(i).is_none_or(|rs| {
                    rs.iter()
                        .all(|r| ids.contains_key(r) || failed_ids.contains(r))
                })
            })
            .collect();
        // Nothing runnable: every remaining op waits on an undefined or
        // circular reference. Run them anyway so each fails with its reason.
        let batch = if ready.is_empty() {
            pending.clone()
        } else {
            ready
        };
        // Reasons are judged against the state before this batch, so two
        // operations waiting on each other both read as circular.
        let failed_before = failed_ids.clone();
        for i in batch {
            if over(errors) {
                break;
            }
            interrupt::check();
            pending.retain(|&p| p != i);
            let (Some(op), Some(op_refs)) = (req.ops.get(i), refs.get(i)) else {
                continue;
            };
            let unresolved = op_refs.iter().find(|r| !ids.contains_key(*r));
            let result = if let Some(r) = unresolved {
                let why = if failed_before.contains(r) {
                    "refers to an operation that failed"
                } else if defined.contains(r.as_str()) {
                    "is part of a circular reference"
                } else {
                    "is not defined in this request"
                };
                error_result(
                    409,
                    Some(crate::ScimType::InvalidValue),
                    format!("bulkId '{r}' {why}"),
                )
            } else {
                let path = substitute_str(&op.path, &ids);
                let data = op.data.as_ref().map(|d| substitute(d, &ids));
                // Ask the router itself, so `/%42ulk` is judged as it will be routed.
                if matches!(
                    super::route::parse_route(&path),
                    Ok(super::route::Route::Bulk)
                ) {
                    error_result(
                        400,
                        Some(crate::ScimType::InvalidValue),
                        "Bulk operations cannot be nested".into(),
                    )
                } else {
                    exec(&op.method, &path, op.version.as_deref(), data.as_ref())
                }
            };
            let ok = (200..300).contains(&result.status);
            if let Some(b) = &op.bulk_id {
                match (
                    ok,
                    result
                        .location
                        .as_deref()
                        .and_then(|l| l.rsplit('/').next()),
                ) {
                    (true, Some(id)) if op.method == "POST" => {
                        ids.insert(b.clone(), id.to_string());
                    }
                    (false, _) => {
                        failed_ids.insert(b.clone());
                    }
                    _ => {}
                }
            }
            if !ok {
                errors += 1;
            }
            done[i] = Some(op_json(op, &result));
        }
    }
    json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": done.into_iter().flatten().collect::<Vec<_>>(),
    })
}

fn op_json(op: &BulkOp, r: &OpResult) -> Value {
    let mut m = Map::new();
    m.insert("method".into(), json!(op.method));
    if let Some(b) = &op.bulk_id {
        m.insert("bulkId".into(), json!(b));
    }
    if let Some(v) = &r.version {
        m.insert("version".into(), json!(v));
    }
    if let Some(l) = &r.location {
        m.insert("location".into(), json!(l));
    }
    m.insert("status".into(), json!(r.status.to_string()));
    if !(200..300).contains(&r.status) {
        if let Some(b) = &r.body {
            m.insert("response".into(), b.clone());
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ops: Value, fail: Option<u64>) -> Value {
        let mut v = json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops});
        if let Some(f) = fail {
            v["failOnErrors"] = json!(f);
        }
        v
    }

    /// A fake executor: POSTs create ids `id-<n>`; data with "fail" fails.
    fn fake() -> impl FnMut(&str, &str, Option<&str>, Option<&Value>) -> OpResult {
        let mut n = 0;
        move |m, p, _v, d| {
            if d.is_some_and(|d| d.get("fail").is_some()) {
                return error_result(400, None, "bad".into());
            }
            n += 1;
            OpResult {
                status: if m == "POST" { 201 } else { 200 },
                location: Some(if m == "POST" {
                    format!("{p}/id-{n}")
                } else {
                    p.to_string()
                }),
                version: Some("W/\"1\"".into()),
                body: d.cloned(),
            }
        }
    }

    #[test]
    fn resolves_forward_references() {
        let r = parse(&req(
            json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "x", "members": [{"value": "bulkId:u"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "a"}},
                {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": []}}
            ]),
            None,
        ), &Limits::default())
        .unwrap();
        let mut seen = vec![];
        let mut inner = fake();
        let out = run(&r, |m, p, v, d| {
            seen.push((m.to_string(), p.to_string(), d.cloned()));
            inner(m, p, v, d)
        });
        // The user ran first; the group saw the user's id; the PATCH the group's id.
        assert_eq!(seen[0].1, "/Users");
        assert_eq!(seen[1].2.as_ref().unwrap()["members"][0]["value"], "id-1");
        assert_eq!(seen[2].1, "/Groups/id-2");
        let ops = out["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0]["bulkId"], "g"); // response in request order
        assert_eq!(ops[0]["status"], "201");
        assert_eq!(ops[0]["location"], "/Groups/id-2");
    }

    #[test]
    fn fail_on_errors_stops_processing() {
        let r = parse(
            &req(
                json!([
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"fail": 1}},
                    {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"fail": 1}},
                    {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "c"}}
                ]),
                Some(1),
            ),
            &Limits::default(),
        )
        .unwrap();
        let out = run(&r, fake());
        let ops = out["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["status"], "400");
        assert_eq!(ops[0]["response"]["detail"], "bad");
    }

    #[test]
    fn unresolvable_references_fail_with_reasons() {
        let r = parse(&req(
            json!([
                {"method": "POST", "path": "/Groups", "bulkId": "x", "data": {"members": [{"value": "bulkId:y"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "y", "data": {"members": [{"value": "bulkId:x"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "f", "data": {"fail": 1}},
                {"method": "POST", "path": "/Groups", "bulkId": "h", "data": {"members": [{"value": "bulkId:f"}]}},
                {"method": "DELETE", "path": "/Users/bulkId:nope"},
                {"method": "POST", "path": "/%42ulk", "bulkId": "n", "data": {"schemas": []}}
            ]),
            None,
        ), &Limits::default())
        .unwrap();
        let out = run(&r, fake());
        let ops = out["Operations"].as_array().unwrap();
        let detail = |i: usize| ops[i]["response"]["detail"].as_str().unwrap().to_string();
        assert!(detail(0).contains("circular"), "{}", detail(0));
        assert!(detail(1).contains("circular"));
        assert_eq!(ops[2]["status"], "400");
        assert!(detail(3).contains("failed"));
        assert!(detail(4).contains("not defined"));
        assert!(detail(5).contains("cannot be nested"), "{}", detail(5));
    }

    #[test]
    fn rejects_bad_requests() {
        let limits = Limits::default();
        let too_many: Vec<Value> = (0..=limits.max_bulk_operations)
            .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
            .collect();
        assert_eq!(
            parse(&req(json!(too_many), None), &limits)
                .unwrap_err()
                .status,
            413
        );
        for bad in [
            json!({"Operations": []}),
            req(json!([{"method": "GET", "path": "/Users"}]), None),
            req(
                json!([{"method": "POST", "path": "/Users", "data": {}}]),
                None,
            ),
            req(json!([{"method": "PUT", "path": "/Users/x"}]), None),
            req(json!([{"method": "POST", "bulkId": "a", "data": {}}]), None),
            req(
                json!([{"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
                       {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}}]),
                None,
            ),
            req(json!("x"), None),
            req(json!([]), Some(0)),
        ] {
            assert_eq!(parse(&bad, &limits).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn password_hashes_are_limited_before_anything_runs() {
        let limits = Limits {
            max_password_hashes: 2,
            ..Limits::default()
        };
        let post = |i: usize, body: Value| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": body});
        let patch = |path: &str, value: Value| json!({"method": "PATCH", "path": "/Users/x", "data": {"Operations": [{"op": "replace", "path": path, "value": value}]}});
        let setting = [
            post(1, json!({"userName": "a", "password": "p"})),
            post(2, json!({"userName": "b", "PASSWORD": "p"})),
            patch("password", json!("p")),
            patch("", json!({"password": "p"})),
            json!({"method": "PUT", "path": "/Users/y", "data": {"userName": "c", "urn:ietf:params:scim:schemas:core:2.0:User:password": "p"}}),
        ];
        for (i, op) in setting.iter().enumerate() {
            let ops = json!([
                post(10, json!({"userName": "x", "password": "p"})),
                post(11, json!({"userName": "y", "password": "p"})),
                op
            ]);
            let e = parse(&req(ops, None), &limits).unwrap_err();
            assert_eq!(e.status, 413, "{i}");
            assert!(
                e.detail.contains("scim.max_password_hashes"),
                "{}",
                e.detail
            );
        }
        // Operations without a password do not count.
        let ops = json!([
            post(1, json!({"userName": "a", "password": "p"})),
            post(2, json!({"userName": "b", "password": "p"})),
            post(3, json!({"userName": "c"})),
            patch("title", json!("password")),
        ]);
        assert!(parse(&req(ops, None), &limits).is_ok());
    }
}
