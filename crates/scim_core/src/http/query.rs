//! List/search parameters, from a query string (GET) or a SearchRequest
//! body (POST .search), validated into one struct.

use crate::error::{ScimError, ScimResult};
use serde_json::Value;

pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub cursor: Option<String>,
}

/// Decode one `application/x-www-form-urlencoded` component
/// (`+` is a space only in query strings).
pub fn decode_component(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn int_param(name: &str, v: &str) -> ScimResult<i64> {
    v.trim().parse::<i64>().map_err(|_| {
        ScimError::invalid_value(format!(
            "query parameter {name} must be an integer, got '{v}'"
        ))
    })
}

impl ListParams {
    /// Parse a raw query string (without `?`). Parameter names are
    /// case-insensitive; unknown parameters are ignored (RFC 7644 leaves
    /// them to the provider, and IdPs add their own).
    pub fn from_query(query: &str) -> ScimResult<ListParams> {
        let mut p = ListParams::default();
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode_component(k, true);
            let v = decode_component(v, true);
            if v.contains('\0') {
                return Err(ScimError::invalid_value(format!(
                    "query parameter {k} contains a NUL character (%00)"
                )));
            }
            match k.to_ascii_lowercase().as_str() {
                "filter" => p.filter = Some(v),
                "startindex" => p.start_index = Some(int_param("startIndex", &v)?),
                "count" => p.count = Some(int_param("count", &v)?),
                "sortby" => p.sort_by = Some(v),
                "sortorder" => p.sort_order = Some(v),
                "attributes" => p.attributes = Some(v),
                "excludedattributes" => p.excluded_attributes = Some(v),
                "cursor" => p.cursor = Some(v),
                _ => {}
            }
        }
        Ok(p)
    }

    /// Parse a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> ScimResult<ListParams> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let mut p = ListParams::default();
        let text = |k: &str, v: &Value| -> ScimResult<String> {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ScimError::invalid_value(format!("'{k}' must be a string")))
        };
        let list = |k: &str, v: &Value| -> ScimResult<String> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::invalid_value(format!("'{k}' must be an array of strings"))
                        })
                    })
                    .collect::<ScimResult<Vec<_>>>()
                    .map(|v| v.join(",")),
                _ => Err(ScimError::invalid_value(format!(
                    "'{k}' must be an array of strings"
                ))),
            }
        };
        let int = |k: &str, v: &Value| -> ScimResult<i64> {
            match v {
                Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
                Value::String(s) => int_param(k, s),
                _ => Err(ScimError::invalid_value(format!(
                    "'{k}' must be an integer"
                ))),
            }
        };
        for (k, v) in obj {
            if v.is_null() {
                continue;
            }
            match k.to_ascii_lowercase().as_str() {
                "schemas" => {
                    let ok = v.as_array().is_some_and(|a| {
                        a.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST_SCHEMA))
                    });
                    if !ok {
                        return Err(ScimError::invalid_value(format!(
                            "'schemas' must contain {SEARCH_REQUEST_SCHEMA}"
                        )));
                    }
                }
                "filter" => p.filter = Some(text(k, v)?),
                "startindex" => p.start_index = Some(int(k, v)?),
                "count" => p.count = Some(int(k, v)?),
                "sortby" => p.sort_by = Some(text(k, v)?),
                "sortorder" => p.sort_order = Some(text(k, v)?),
                "attributes" => p.attributes = Some(list(k, v)?),
                "excludedattributes" => p.excluded_attributes = Some(list(k, v)?),
                "cursor" => p.cursor = Some(text(k, v)?),
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "unknown SearchRequest attribute '{k}'"
                    )))
                }
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_strings() {
        let p = ListParams::from_query(
            "filter=userName%20eq%20%22a%2Bb%40x.com%22&StartIndex=1&count=100&excludedAttributes=members&x=1",
        )
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some("userName eq \"a+b@x.com\""));
        assert_eq!((p.start_index, p.count), (Some(1), Some(100)));
        assert_eq!(p.excluded_attributes.as_deref(), Some("members"));
        let p = ListParams::from_query("filter=displayName+eq+%22Eng%22").unwrap();
        assert_eq!(p.filter.as_deref(), Some("displayName eq \"Eng\""));
        assert_eq!(ListParams::from_query("count=ten").unwrap_err().status, 400);
        assert_eq!(decode_component("100%", true), "100%");
        let e = ListParams::from_query("filter=userName%20eq%20%22a%00%22").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(decode_component("%zz%4", true), "%zz%4");
    }

    #[test]
    fn search_bodies() {
        let p = ListParams::from_search_body(&json!({
            "schemas": [SEARCH_REQUEST_SCHEMA], "filter": "userName sw \"a\"",
            "attributes": ["userName", "emails"], "startIndex": 2, "count": 5, "sortOrder": "descending"
        }))
        .unwrap();
        assert_eq!(p.attributes.as_deref(), Some("userName,emails"));
        assert_eq!((p.start_index, p.count), (Some(2), Some(5)));
        assert!(ListParams::from_search_body(&json!({"schemas": ["x"]})).is_err());
        assert!(ListParams::from_search_body(&json!({"count": "x"})).is_err());
        assert!(ListParams::from_search_body(&json!({"bogus": 1})).is_err());
        assert!(ListParams::from_search_body(&json!([])).is_err());
    }
}
