//! `scim_http`: the one HTTP entry point. Method + path + query + headers +
//! body in, status + headers + body out. All SCIM behaviour lives here (and
//! below); the gateway and PostgREST only carry bytes.
//!
//! Errors are raised as SQL errors like everywhere else; the plpgsql wrapper
//! `scim.scim_http` (sql/finalize.sql) runs this in a sub-transaction, so a
//! failed write is rolled back, and turns the error into a SCIM error body.

mod response;

use crate::api;
use crate::auth;
use crate::error::OrRaise;
use crate::store::etag::check_if_match;
use pgrx::prelude::*;
use pgrx::JsonB;
use response::Response;
use scim_core::http::discovery;
use scim_core::http::route::{parse_route, Method, Route};
use scim_core::http::MAX_PAYLOAD_BYTES;
use scim_core::resource::project;
use scim_core::{ScimError, ScimResult};
use serde_json::Value;

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a Value,
    pub body: Option<&'a str>,
}

impl Request<'_> {
    /// Header lookup, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }

    /// The JSON body; required for the methods that carry one.
    fn json(&self) -> ScimResult<Value> {
        let text = self
            .body
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ScimError::invalid_syntax("a JSON request body is required"))?;
        serde_json::from_str(text)
            .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
    }
}

#[pg_extern(name = "_http_dispatch")]
fn http_dispatch(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Option<JsonB>,
    body: Option<&str>,
) -> JsonB {
    let headers = headers.map(|h| h.0).unwrap_or(Value::Null);
    let req = Request {
        method,
        path,
        query: query.unwrap_or(""),
        headers: &headers,
        body,
    };
    JsonB(dispatch(&req).or_raise().into_json())
}

pub fn dispatch(req: &Request) -> ScimResult<Response> {
    if req.body.is_some_and(|b| b.len() > MAX_PAYLOAD_BYTES) {
        return Err(ScimError::new(
            413,
            None,
            format!("request body exceeds {MAX_PAYLOAD_BYTES} bytes"),
        ));
    }
    let method = Method::parse(req.method)?;
    let route = parse_route(req.path)?;
    if route.is_discovery() {
        return discovery_route(&route, method);
    }
    let tenant = auth::authenticate(req.header("authorization"))?;
    let query = || scim_core::http::query::ListParams::from_query(req.query);
    match (route, method) {
        (Route::Resource(rt, id), Method::Get) => {
            let q = query()?;
            let (attrs, excl) = (q.attributes.as_deref(), q.excluded_attributes.as_deref());
            let full = api::get_full(tenant, rt, &id, attrs, excl)?;
            let etag = response::version_of(&full);
            if let (Some(inm), Some(tag)) = (req.header("if-none-match"), etag.as_deref()) {
                if inm.trim() == "*" || inm.split(',').any(|t| same_tag(t, tag)) {
                    return Ok(Response::not_modified(tag));
                }
            }
            Ok(Response::resource(200, project(rt, &full, attrs, excl)?))
        }
        (Route::Collection(rt), Method::Post) => {
            let created = api::create(tenant, rt, &req.json()?)?;
            Ok(Response::created(created))
        }
        (Route::Resource(rt, id), Method::Put) => {
            let r = api::replace(tenant, rt, &id, &req.json()?, req.header("if-match"))?;
            Ok(Response::resource(200, r))
        }
        (Route::Resource(rt, id), Method::Delete) => {
            api::delete(tenant, rt, &id, req.header("if-match"))?;
            Ok(Response::no_content())
        }
        (Route::Me, _) => Err(ScimError::new(
            501,
            None,
            "/Me is not supported: tokens identify a tenant, not a user",
        )),
        (route, m) => Err(ScimError::new(
            405,
            None,
            format!("{m:?} is not allowed on {route:?}").to_uppercase(),
        )),
    }
}

fn same_tag(candidate: &str, current: &str) -> bool {
    check_if_match(Some(candidate), response::version_number(current)).is_ok()
}

fn discovery_route(route: &Route, method: Method) -> ScimResult<Response> {
    if method != Method::Get {
        return Err(ScimError::new(405, None, "discovery endpoints are read-only"));
    }
    let body = match route {
        Route::ServiceProviderConfig => discovery::service_provider_config(),
        Route::ResourceTypes(name) => discovery::resource_types(name.as_deref())?,
        Route::Schemas(urn) => discovery::schemas(urn.as_deref())?,
        _ => unreachable!("not a discovery route"),
    };
    Ok(Response::json(200, body))
}
