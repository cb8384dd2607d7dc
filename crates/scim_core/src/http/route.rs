//! Method + path → what the request asks for.

use crate::error::{ScimError, ScimResult};
use crate::schema::{ResourceTypeDef, GROUP_TYPE, USER_TYPE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn parse(m: &str) -> ScimResult<Method> {
        Ok(match m.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => {
                return Err(ScimError::new(
                    405,
                    None,
                    format!("method {m} is not supported"),
                ))
            }
        })
    }
}

#[derive(Debug, PartialEq)]
pub enum Route {
    ServiceProviderConfig,
    ResourceTypes(Option<String>),
    Schemas(Option<String>),
    /// `GET /Users` (list) or `POST /Users` (create).
    Collection(&'static ResourceTypeDef),
    /// `/Users/{id}`.
    Resource(&'static ResourceTypeDef, String),
    /// `POST /Users/.search`, or `POST /.search` (None: every type).
    Search(Option<&'static ResourceTypeDef>),
    Bulk,
    Me,
}

impl Route {
    /// Discovery endpoints may be read without a token (RFC 7644 §4).
    pub fn is_discovery(&self) -> bool {
        matches!(
            self,
            Route::ServiceProviderConfig | Route::ResourceTypes(_) | Route::Schemas(_)
        )
    }
}

fn percent_decode(s: &str) -> String {
    crate::http::query::decode_component(s, false)
}

/// Parse a path relative to the SCIM base (`/Users/abc`, `Users/abc/`, …).
pub fn parse_route(path: &str) -> ScimResult<Route> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let not_found = || ScimError::not_found(format!("no SCIM endpoint at '{path}'"));
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let seg = |i: usize| segs.get(i).map(String::as_str);
    let route = match (seg(0), seg(1), segs.len()) {
        (Some(a), None, 1) if eq(a, "ServiceProviderConfig") => Route::ServiceProviderConfig,
        (Some(a), b, n) if eq(a, "ResourceTypes") && n <= 2 => {
            Route::ResourceTypes(b.map(str::to_string))
        }
        (Some(a), b, n) if eq(a, "Schemas") && n <= 2 => Route::Schemas(b.map(str::to_string)),
        (Some(a), None, 1) if eq(a, ".search") => Route::Search(None),
        (Some(a), None, 1) if eq(a, "Bulk") => Route::Bulk,
        (Some(a), _, _) if eq(a, "Me") => Route::Me,
        (Some(a), b, n) if n <= 2 => {
            let rt = if eq(a, "Users") {
                &USER_TYPE
            } else if eq(a, "Groups") {
                &GROUP_TYPE
            } else {
                return Err(not_found());
            };
            match b {
                None => Route::Collection(rt),
                Some(s) if eq(s, ".search") => Route::Search(Some(rt)),
                Some(id) => Route::Resource(rt, id.to_string()),
            }
        }
        _ => return Err(not_found()),
    };
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            parse_route("/Users").unwrap(),
            Route::Collection(&USER_TYPE)
        );
        assert_eq!(
            parse_route("users/").unwrap(),
            Route::Collection(&USER_TYPE)
        );
        assert_eq!(
            parse_route("/Groups/a%20b").unwrap(),
            Route::Resource(&GROUP_TYPE, "a b".into())
        );
        assert_eq!(
            parse_route("/Users/.search").unwrap(),
            Route::Search(Some(&USER_TYPE))
        );
        assert_eq!(parse_route("/.search").unwrap(), Route::Search(None));
        assert_eq!(parse_route("/Bulk").unwrap(), Route::Bulk);
        assert_eq!(
            parse_route("/serviceproviderconfig").unwrap(),
            Route::ServiceProviderConfig
        );
        assert_eq!(
            parse_route("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").unwrap(),
            Route::Schemas(Some("urn:ietf:params:scim:schemas:core:2.0:User".into()))
        );
        assert_eq!(
            parse_route("/ResourceTypes").unwrap(),
            Route::ResourceTypes(None)
        );
        assert_eq!(parse_route("/Me").unwrap(), Route::Me);
        for bad in ["/", "", "/Widgets", "/Users/a/b", "/Bulk/x"] {
            assert_eq!(parse_route(bad).unwrap_err().status, 404, "{bad}");
        }
        assert_eq!(Method::parse("patch").unwrap(), Method::Patch);
        assert_eq!(Method::parse("TRACE").unwrap_err().status, 405);
    }
}
