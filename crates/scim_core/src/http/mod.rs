//! The protocol surface of `scim_http`, minus storage: routing a method and
//! path, reading query parameters and search bodies, and the discovery
//! documents. The extension's dispatcher wires these to the store.

pub mod bulk;
pub mod discovery;
pub mod etag;
pub mod listing;
pub mod query;
pub mod response;
pub mod route;

/// Page size when the client gives no `count` (the other request limits
/// are configurable: [`crate::limits::Limits`]).
pub const DEFAULT_COUNT: i64 = 100;

use crate::error::{ScimError, ScimResult};
use serde_json::Value;

/// Parse a request body. Besides JSON syntax, a string (or member name)
/// containing U+0000 is rejected: Postgres text and jsonb cannot hold it,
/// so it must be a 400 here rather than a storage error later.
pub fn parse_body(text: &str) -> ScimResult<Value> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}"))
    })?;
    if has_nul(&v) {
        return Err(ScimError::invalid_value(
            "the request body contains a NUL character (\\u0000)",
        ));
    }
    Ok(v)
}

/// Whether any string or member name in `v` contains U+0000 (iterative:
/// the depth is serde's, the cost linear in the value).
pub fn has_nul(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        crate::interrupt::check();
        match v {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => {
                if o.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                stack.extend(o.values());
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_nul_are_400() {
        for body in [
            r#"{"userName": "a\u0000b"}"#,
            r#"{"a\u0000": 1}"#,
            r#"{"Operations": [{"bulkId": "\u0000"}]}"#,
            r#"[[[["\u0000"]]]]"#,
        ] {
            let e = parse_body(body).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(crate::ScimType::InvalidValue)),
                "{body}"
            );
        }
        assert!(parse_body(r#"{"userName": "a\\u0000"}"#).is_ok());
        assert_eq!(
            parse_body("{").unwrap_err().scim_type,
            Some(crate::ScimType::InvalidSyntax)
        );
    }
}
