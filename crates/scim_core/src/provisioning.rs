//! What the provisioning log keeps of a write request: the names of the
//! attributes it wrote, and (when the tenant opts in) its body with every
//! password redacted.

use serde_json::{json, Value};

/// The attribute a PATCH path names: `emails[type eq "work"].value` →
/// `emails`, `name.givenName` → `name`, an extension URN path
/// `urn:…:enterprise:2.0:User:manager.value` → `manager`.
fn path_attribute(path: &str) -> String {
    let base = path.trim().split('[').next().unwrap_or_default();
    let name = if base.to_ascii_lowercase().starts_with("urn:") {
        base.rsplit(':').next().unwrap_or(base)
    } else {
        base
    };
    name.split('.').next().unwrap_or(name).to_string()
}

/// A body key: an extension URN stays whole (it names the extension),
/// a dotted key (`name.givenName`) names its attribute.
fn key_attribute(key: &str) -> String {
    if key.to_ascii_lowercase().starts_with("urn:") {
        key.to_string()
    } else {
        key.split('.').next().unwrap_or(key).to_string()
    }
}

/// The attribute names a write names: the top-level keys of a POST/PUT
/// body, the paths (or value keys) of PATCH operations; sorted, unique,
/// without `schemas`. `None` when the body is not the expected shape.
pub fn written_attributes(method: &str, body: &Value) -> Option<Vec<String>> {
    let mut names: Vec<String> = vec![];
    if method.eq_ignore_ascii_case("PATCH") {
        let ops = body
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .and_then(|(_, v)| v.as_array())?;
        for op in ops {
            crate::interrupt::check();
            match op.get("path").and_then(Value::as_str) {
                Some(p) => names.push(path_attribute(p)),
                None => {
                    if let Some(m) = op.get("value").and_then(Value::as_object) {
                        names.extend(m.keys().map(|k| key_attribute(k)));
                    }
                }
            }
        }
    } else {
        names.extend(body.as_object()?.keys().map(|k| key_attribute(k)));
    }
    names.retain(|n| !n.is_empty() && !n.eq_ignore_ascii_case("schemas"));
    names.sort();
    names.dedup();
    Some(names)
}

/// The body with every `password` value, and the value of any PATCH
/// operation whose path is `password`, replaced by `"(redacted)"`.
pub fn redact_passwords(mut body: Value) -> Value {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                let password_op = m
                    .get("path")
                    .and_then(Value::as_str)
                    .is_some_and(|p| path_attribute(p).eq_ignore_ascii_case("password"));
                for (k, child) in m.iter_mut() {
                    if k.eq_ignore_ascii_case("password") || (password_op && k == "value") {
                        *child = json!("(redacted)");
                    } else {
                        scrub(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut body);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_of_each_write_shape() {
        let post = json!({"schemas": ["x"], "userName": "a", "name": {"givenName": "A"},
                          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}});
        assert_eq!(
            written_attributes("POST", &post).unwrap(),
            [
                "name",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "userName"
            ]
        );
        let patch = json!({"schemas": ["x"], "Operations": [
            {"op": "replace", "path": "active", "value": false},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@b"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m"},
            {"op": "remove", "path": "members[value eq \"urn:x:y\"]"},
            {"op": "replace", "value": {"displayName": "D", "name.familyName": "F"}}]});
        assert_eq!(
            written_attributes("patch", &patch).unwrap(),
            [
                "active",
                "displayName",
                "emails",
                "manager",
                "members",
                "name"
            ]
        );
        assert_eq!(written_attributes("PATCH", &json!([1])), None);
    }

    #[test]
    fn passwords_never_survive() {
        let body = json!({"userName": "a", "PassWord": "s3cret", "Operations": [
            {"op": "replace", "path": "password", "value": "p2"},
            {"op": "replace", "value": {"password": "p3", "active": true}}]});
        let text = redact_passwords(body).to_string();
        assert!(!text.contains("s3cret") && !text.contains("p2") && !text.contains("p3"));
        assert!(text.contains("\"active\":true") && text.contains("\"userName\":\"a\""));
    }
}
