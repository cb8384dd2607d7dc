//! `scim_http`: the one HTTP entry point. Method + path + query + headers +
//! body in, status + headers + body out. All SCIM behaviour lives here (and
//! below); the gateway and PostgREST only carry bytes.
//!
//! Errors are raised as SQL errors like everywhere else; the plpgsql wrapper
//! `scim.scim_http` (sql/finalize.sql) runs this in a sub-transaction, so a
//! failed write is rolled back, and turns the error into a SCIM error body.

mod bulk;
pub mod response;

use crate::api;
use crate::auth;
use crate::error::OrRaise;
use crate::settings;
use crate::spi::jsonb::JsonArg;
use crate::store;
use crate::store::etag::check_if_match;
use pgrx::prelude::*;
use pgrx::JsonB;
use response::Response;
use scim_core::http::discovery;
use scim_core::http::query::ListParams;
use scim_core::http::route::{parse_route, Method, Route};
use scim_core::http::DEFAULT_COUNT;
use scim_core::resource::project;
use scim_core::schema::{ResourceKind, ResourceTypeDef, GROUP_TYPE, USER_TYPE};
use scim_core::ScimType;
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
        scim_core::http::parse_body(text)
    }
}

/// One request. `tenant` NULL: authenticate by the bearer token (the
/// normal case); set: an already-authenticated tenant (Bulk operations).
/// Owner-only (`scim._http` wraps it in a sub-transaction).
#[pg_extern(name = "_http_dispatch")]
fn http_dispatch(
    tenant: Option<pgrx::Uuid>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Option<JsonArg>,
    body: Option<&str>,
) -> JsonB {
    if tenant.is_none() {
        crate::request_context::begin();
    }
    let resp = headers
        .map_or(Ok(Value::Null), JsonArg::value)
        .and_then(|headers| {
            let req = Request {
                method,
                path,
                query: query.unwrap_or(""),
                headers: &headers,
                body,
            };
            match tenant {
                None => dispatch(&req),
                Some(t) => dispatch_as(t, &req),
            }
        });
    JsonB(resp.or_raise().into_json())
}

pub fn dispatch(req: &Request) -> ScimResult<Response> {
    let max = settings::limits().max_payload_bytes;
    if let Some(n) = req.body.map(str::len).filter(|n| *n > max) {
        return Err(scim_core::limits::exceeded(
            "scim.max_payload_bytes, maxPayloadSize",
            max,
            "request body bytes",
            n,
        ));
    }
    // OAuth 2.0 token endpoint: the client authenticates itself.
    if req.path == crate::oauth::TOKEN_PATH {
        return crate::oauth::token(req);
    }
    let method = Method::parse(req.method)?;
    if req.path == crate::provisioning_log::LOG_PATH {
        let tenant = auth::authenticate(req.header("authorization"))?;
        return as_tenant(tenant, || crate::provisioning_log::http_get(req));
    }
    let route = parse_route(req.path)?;
    if route.is_discovery() {
        return discovery_route(&route, method);
    }
    let tenant = auth::authenticate(req.header("authorization"))?;
    dispatch_as(tenant, req)
}

/// Make `tenant` the current tenant (GUC `scim.tenant`, transaction-local)
/// while `f` runs, so Row Level Security agrees with the token when the
/// caller is not a superuser (PostgREST's role); restored afterwards. The
/// GUC is set directly (no SPI statement: nothing to plan, and it works on
/// a hot standby, where pgrx's mutable SPI calls would ask for an xid).
fn as_tenant<T>(tenant: pgrx::Uuid, f: impl FnOnce() -> ScimResult<T>) -> ScimResult<T> {
    let previous = store::tenant::setting().unwrap_or_default();
    store::tenant::set_local(&store::uuid_text(&tenant))?;
    let out = f();
    store::tenant::set_local(&previous)?;
    out
}

pub fn dispatch_as(tenant: pgrx::Uuid, req: &Request) -> ScimResult<Response> {
    crate::provisioning_log::note_target(tenant, req);
    let mut resp = as_tenant(tenant, || route_request(tenant, req))?;
    if let Some(base) = base_url(req) {
        resp.absolutize(&base);
    }
    Ok(resp)
}

/// The public base URL of the SCIM service: the GUC `scim.public_url`,
/// set by whoever runs the proxy (the gateway's `--public-url`, an
/// `ALTER ROLE … SET`, or `scim_postgrest` from nginx's own header). Never
/// a request header: `Host`, `X-Forwarded-*` and `X-Scim-Base-Url` come
/// from the client. Unset: relative URLs.
fn base_url(_req: &Request) -> Option<String> {
    let url = crate::settings::string("scim.public_url")?;
    let url = url.trim().trim_end_matches('/');
    let plausible = (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"');
    plausible.then(|| url.to_string())
}

fn route_request(tenant: pgrx::Uuid, req: &Request) -> ScimResult<Response> {
    let method = Method::parse(req.method)?;
    let route = parse_route(req.path)?;
    if route.is_discovery() {
        return discovery_route(&route, method);
    }
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
        (Route::Collection(rt), Method::Get) => {
            Ok(Response::json(200, api::list(tenant, rt, &query()?)?))
        }
        (Route::Search(Some(rt)), Method::Post) => {
            let params = ListParams::from_search_body(&req.json()?)?;
            Ok(Response::json(200, api::list(tenant, rt, &params)?))
        }
        (Route::Search(None), Method::Post) => {
            let params = ListParams::from_search_body(&req.json()?)?;
            Ok(Response::json(200, search_all(tenant, &params)?))
        }
        (Route::Resource(rt, id), Method::Patch) => {
            let r = store::patch::patch(tenant, rt, &id, &req.json()?, req.header("if-match"))?;
            match rt.kind {
                // A group's member list is not read back (PATCH stays O(delta));
                // RFC 7644 §3.5.2 allows 204. `attributes` asks for a body.
                ResourceKind::Group if query()?.attributes.is_none() => {
                    let mut resp = Response::no_content();
                    if let Some(tag) = response::version_of(&r) {
                        resp.headers.insert("ETag".into(), Value::String(tag));
                    }
                    Ok(resp)
                }
                _ => {
                    let q = query()?;
                    let full = if rt.kind == ResourceKind::Group {
                        api::get_full(
                            tenant,
                            rt,
                            &id,
                            q.attributes.as_deref(),
                            q.excluded_attributes.as_deref(),
                        )?
                    } else {
                        r
                    };
                    let body = project(
                        rt,
                        &full,
                        q.attributes.as_deref(),
                        q.excluded_attributes.as_deref(),
                    )?;
                    Ok(Response::resource(200, body))
                }
            }
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
        (Route::Bulk, Method::Post) => Ok(Response::json(200, bulk::run(tenant, &req.json()?)?)),
        (Route::Me, _) => Err(ScimError::new(
            501,
            None,
            "/Me is not supported: tokens identify a tenant, not a user",
        )),
        (_, m) => Err(ScimError::new(
            405,
            None,
            format!(
                "{} is not allowed on {}",
                format!("{m:?}").to_uppercase(),
                req.path
            ),
        )),
    }
}

/// `POST /.search` at the root: Users then Groups, paged as one list.
/// A filter that names attributes of only one type searches that type.
fn search_all(tenant: pgrx::Uuid, p: &ListParams) -> ScimResult<Value> {
    if p.cursor.is_some() || p.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "cursor and sortBy are not supported on the root /.search; search /Users or /Groups",
        ));
    }
    let start = p.start_index.unwrap_or(1).max(1);
    let count = p
        .count
        .unwrap_or(DEFAULT_COUNT)
        .clamp(0, settings::limits().max_results);
    let mut resources = vec![];
    let mut total = 0;
    let mut first_error = None;
    let mut searched = 0;
    for rt in [&USER_TYPE, &GROUP_TYPE] {
        // Attribute lists may name attributes of either type: each type
        // keeps the ones it has (excludedAttributes=members for groups).
        let p = &ListParams {
            attributes: p.attributes.as_deref().map(|a| {
                let kept = known_to(rt, a);
                if kept.is_empty() {
                    "id".to_string()
                } else {
                    kept
                }
            }),
            excluded_attributes: p.excluded_attributes.as_deref().map(|a| known_to(rt, a)),
            ..p.clone()
        };
        // Totals first (count=0), then the slice of this type's page.
        let probe = ListParams {
            count: Some(0),
            start_index: Some(1),
            ..p.clone()
        };
        let n = match api::list(tenant, rt, &probe) {
            Ok(v) => v.get("totalResults").and_then(Value::as_i64).unwrap_or(0),
            Err(e) if e.scim_type == Some(ScimType::InvalidFilter) => {
                first_error.get_or_insert(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        searched += 1;
        // Global positions [start-1, start-1+count) intersected with this
        // type's [total, total+n). Client numbers: saturating arithmetic.
        let first = start.saturating_sub(1);
        let from = first.max(total);
        let to = first.saturating_add(count).min(total.saturating_add(n));
        if to > from {
            let part = ListParams {
                start_index: Some(from.saturating_sub(total).saturating_add(1)),
                count: Some(to.saturating_sub(from)),
                ..p.clone()
            };
            let page = api::list(tenant, rt, &part)?;
            if let Some(items) = page.get("Resources").and_then(Value::as_array) {
                resources.extend(items.iter().cloned());
            }
        }
        total = total.saturating_add(n);
    }
    match (searched, first_error) {
        (0, Some(e)) => Err(e),
        _ => Ok(discovery::list_response(resources, total, start)),
    }
}

/// The entries of an attribute list that exist for `rt`.
fn known_to(rt: &ResourceTypeDef, list: &str) -> String {
    list.split(',')
        .map(str::trim)
        .filter(|a| rt.resolve(a).is_some() || rt.extension(a).is_some())
        .collect::<Vec<_>>()
        .join(",")
}

fn same_tag(candidate: &str, current: &str) -> bool {
    check_if_match(Some(candidate), response::version_number(current)).is_ok()
}

fn discovery_route(route: &Route, method: Method) -> ScimResult<Response> {
    if method != Method::Get {
        return Err(ScimError::new(
            405,
            None,
            "discovery endpoints are read-only",
        ));
    }
    let body = match route {
        Route::ServiceProviderConfig => discovery::service_provider_config(&settings::limits()),
        Route::ResourceTypes(name) => discovery::resource_types(name.as_deref())?,
        Route::Schemas(urn) => discovery::schemas(urn.as_deref())?,
        _ => return Err(ScimError::not_found("not a discovery endpoint")),
    };
    Ok(Response::json(200, body))
}
