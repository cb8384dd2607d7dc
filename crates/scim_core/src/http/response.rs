//! HTTP responses as `scim_http` returns them: status, headers, a JSON
//! body, and making our relative URLs absolute under the public base URL.

use serde_json::{json, Map, Value};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

pub struct Response {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub body: Option<Value>,
}

/// `meta.version` of a resource representation.
pub fn version_of(resource: &Value) -> Option<String> {
    resource
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn prefix_relative(s: &mut String, base: &str) {
    if s.starts_with('/') {
        s.insert_str(0, base);
    }
}

fn absolutize_value(v: &mut Value, base: &str) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                match child {
                    Value::String(s) if k == "location" || k == "$ref" => prefix_relative(s, base),
                    _ => absolutize_value(child, base),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| absolutize_value(i, base)),
        _ => {}
    }
}

impl Response {
    pub fn json(status: u16, body: Value) -> Response {
        let mut headers = Map::new();
        headers.insert("Content-Type".into(), json!(SCIM_CONTENT_TYPE));
        Response {
            status,
            headers,
            body: Some(body),
        }
    }

    /// 200 with a ListResponse of every one of `resources` (an unpaged
    /// listing: the JSON array SQL aggregated; anything else counts as
    /// none).
    pub fn unpaged_list(resources: Value) -> Response {
        let items = match resources {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let n = items.len() as i64;
        Response::json(200, super::discovery::list_response(items, n, 1))
    }

    /// A resource, with its ETag.
    pub fn resource(status: u16, body: Value) -> Response {
        let tag = version_of(&body);
        let mut r = Response::json(status, body);
        if let Some(tag) = tag {
            r.headers.insert("ETag".into(), json!(tag));
        }
        r
    }

    /// 201 with Location = meta.location.
    pub fn created(body: Value) -> Response {
        let location = body.pointer("/meta/location").cloned();
        let mut r = Response::resource(201, body);
        if let Some(l) = location {
            r.headers.insert("Location".into(), l);
        }
        r
    }

    pub fn no_content() -> Response {
        Response {
            status: 204,
            headers: Map::new(),
            body: None,
        }
    }

    pub fn not_modified(tag: &str) -> Response {
        let mut headers = Map::new();
        headers.insert("ETag".into(), json!(tag));
        Response {
            status: 304,
            headers,
            body: None,
        }
    }

    /// Make our relative URLs (`/Users/…`, `/Groups/…`, discovery
    /// locations) absolute under `base`: the Location header, and every
    /// `location` / `$ref` string in the body.
    pub fn absolutize(&mut self, base: &str) {
        if let Some(Value::String(l)) = self.headers.get_mut("Location") {
            prefix_relative(l, base);
        }
        if let Some(b) = &mut self.body {
            absolutize_value(b, base);
        }
    }

    pub fn into_json(self) -> Value {
        json!({"status": self.status, "headers": self.headers, "body": self.body})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaged_list_counts_what_it_holds() {
        let r = Response::unpaged_list(json!([{"id": "a"}, {"id": "b"}]));
        assert_eq!(r.status, 200);
        let b = r.body.unwrap();
        assert_eq!(
            (&b["totalResults"], &b["itemsPerPage"], &b["startIndex"]),
            (&json!(2), &json!(2), &json!(1))
        );
        assert_eq!(b["Resources"], json!([{"id": "a"}, {"id": "b"}]));
        assert_eq!(
            b["schemas"],
            json!([super::super::discovery::LIST_RESPONSE_SCHEMA])
        );
        let empty = Response::unpaged_list(Value::Null).body.unwrap();
        assert_eq!(
            (&empty["totalResults"], &empty["Resources"]),
            (&json!(0), &json!([]))
        );
    }

    #[test]
    fn created_carries_location_and_etag_and_absolutizes() {
        let body = json!({"id": "1", "meta": {"location": "/Users/1", "version": "W/\"2\""},
                          "groups": [{"$ref": "/Groups/9", "value": "9"}], "x": "/Users/1"});
        let mut r = Response::created(body);
        assert_eq!(r.status, 201);
        assert_eq!(r.headers["ETag"], "W/\"2\"");
        r.absolutize("https://scim.example/v2");
        assert_eq!(r.headers["Location"], "https://scim.example/v2/Users/1");
        let b = r.body.unwrap();
        assert_eq!(b["meta"]["location"], "https://scim.example/v2/Users/1");
        assert_eq!(b["groups"][0]["$ref"], "https://scim.example/v2/Groups/9");
        assert_eq!(b["x"], "/Users/1"); // only location and $ref
    }
}
