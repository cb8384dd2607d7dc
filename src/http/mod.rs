//! `scim_http`: the one HTTP entry point. Method + path + query + headers +
//! body in, status + headers + body out. All SCIM behaviour lives here (and
//! below); the gateway and PostgREST only carry bytes.
//!
//! Errors are raised as SQL errors like everywhere else; the plpgsql wrapper
//! `scim.scim_http` (sql/http.sql) runs this in a sub-transaction, so a
//! failed write is rolled back, and turns the error into a SCIM error body.

mod bulk;
mod entry;

use crate::auth;
use crate::error::OrRaise;
use crate::service;
use crate::settings;
use crate::spi::jsonb::{JsonArg, JsonbDatum};
use crate::store;
use pgrx::prelude::*;
use scim_core::http::discovery;
use scim_core::http::etag;
use scim_core::http::query::ListParams;
use scim_core::http::response::{self, Response};
use scim_core::http::route::{parse_route, Method, Route};
use scim_core::resource::project;
use scim_core::schema::{ResourceKind, ResourceTypeDef};
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

/// A response as `_http_dispatch` hands it to SQL. A ListResponse SQL
/// built (the default projection) stays the jsonb datum it is: turning it
/// into serde JSON and back into jsonb cost more than finding the page.
pub enum Reply {
    Json(Response),
    /// Status and headers in `head` (its body unset), the body as built.
    Datum {
        head: Response,
        body: JsonbDatum,
    },
}

impl Reply {
    /// The whole response as serde JSON (for rewriting URLs in the body).
    fn into_response(self) -> ScimResult<Response> {
        match self {
            Reply::Json(r) => Ok(r),
            Reply::Datum { mut head, body } => {
                head.body = Some(body.to_value()?);
                Ok(head)
            }
        }
    }

    /// `{"status", "headers", "body"}` as jsonb, what `scim._http` reads.
    fn into_datum(self) -> ScimResult<JsonbDatum> {
        match self {
            Reply::Json(r) => JsonbDatum::from_value(r.into_json()),
            Reply::Datum { head, body } => {
                JsonbDatum::from_value(head.into_json())?.with_key("body", body)
            }
        }
    }

    /// 200 with a body SQL built (and its ETag, for a resource).
    fn datum(body: JsonbDatum, etag: Option<String>) -> Reply {
        Reply::Datum {
            head: datum_head(200, etag),
            body,
        }
    }

    /// A written resource: 201 with its Location for a create, else 200;
    /// its ETag either way.
    fn written(rt: &ResourceTypeDef, shown: service::Shown, created: bool) -> Reply {
        match shown {
            service::Shown::Json(v) if created => Response::created(v).into(),
            service::Shown::Json(v) => Response::resource(200, v).into(),
            service::Shown::Rendered(r) => {
                let mut head = datum_head(
                    if created { 201 } else { 200 },
                    Some(etag::format(r.version)),
                );
                if created {
                    let location = format!("{}/{}", rt.endpoint, store::uuid_text(&r.id));
                    head.headers
                        .insert("Location".into(), Value::String(location));
                }
                Reply::Datum { head, body: r.body }
            }
        }
    }

    /// A ListResponse: as built when SQL built it.
    fn list(list: service::ListBody) -> Reply {
        match list {
            service::ListBody::Datum(body) => Reply::datum(body, None),
            service::ListBody::Json(v) => Reply::Json(Response::json(200, v)),
        }
    }
}

/// Status and headers of a response whose body SQL built (body unset).
fn datum_head(status: u16, etag: Option<String>) -> Response {
    let mut head = Response::json(status, Value::Null);
    head.body = None;
    if let Some(tag) = etag {
        head.headers.insert("ETag".into(), Value::String(tag));
    }
    head
}

impl From<Response> for Reply {
    fn from(r: Response) -> Reply {
        Reply::Json(r)
    }
}

/// One request. `tenant` NULL: authenticate by the bearer token (the
/// normal case); set: an already-authenticated tenant (Bulk operations).
/// Owner-only (`scim._http`, src/http/entry.rs, runs the same dispatch in
/// a sub-transaction; this entry point is kept for measuring the layers).
#[pg_extern(name = "_http_dispatch")]
fn http_dispatch(
    tenant: Option<pgrx::Uuid>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Option<JsonArg>,
    body: Option<&str>,
) -> JsonbDatum {
    let headers = headers.map_or(Ok(Value::Null), JsonArg::value);
    answer(tenant, method, path, query, headers.as_ref(), body)
        .and_then(Reply::into_datum)
        .or_raise()
}

/// One request's answer: authenticated by its bearer token (`tenant`
/// None, a new request context) or for a tenant already authenticated.
pub(crate) fn answer(
    tenant: Option<pgrx::Uuid>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Result<&Value, &ScimError>,
    body: Option<&str>,
) -> ScimResult<Reply> {
    if tenant.is_none() {
        crate::request_context::begin();
    }
    let req = Request {
        method,
        path,
        query: query.unwrap_or(""),
        headers: headers.map_err(Clone::clone)?,
        body,
    };
    match tenant {
        None => dispatch(&req),
        Some(t) => dispatch_as(t, &req),
    }
}

pub fn dispatch(req: &Request) -> ScimResult<Reply> {
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
        return crate::oauth::token(req).map(Reply::from);
    }
    let method = Method::parse(req.method)?;
    if req.path == crate::provisioning_log::LOG_PATH {
        let tenant = auth::authenticate(req.header("authorization"))?;
        return as_tenant(tenant, || crate::provisioning_log::http_get(req)).map(Reply::from);
    }
    if crate::credentials_http::handles(req.path) {
        let tenant = auth::authenticate(req.header("authorization"))?;
        return as_tenant(tenant, || crate::credentials_http::http(req)).map(Reply::from);
    }
    let route = parse_route(req.path)?;
    // Discovery is readable without a token (RFC 7644 §4): the built-in
    // schemas; with one, the token's tenant's (its registered extensions).
    if route.is_discovery() && req.header("authorization").is_none() {
        return discovery_route(&route, method, None).map(Reply::from);
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

pub fn dispatch_as(tenant: pgrx::Uuid, req: &Request) -> ScimResult<Reply> {
    crate::provisioning_log::note_target(tenant, req);
    let reply = as_tenant(tenant, || route_request(tenant, req))?;
    match base_url() {
        Some(base) => {
            let mut resp = reply.into_response()?;
            resp.absolutize(&base);
            Ok(Reply::Json(resp))
        }
        None => Ok(reply),
    }
}

/// The public base URL of the SCIM service: the GUC `scim.public_url`,
/// set by whoever runs the proxy (the gateway's `--public-url`, an
/// `ALTER ROLE … SET`, or `scim_postgrest` from nginx's own header). Never
/// a request header: `Host`, `X-Forwarded-*` and `X-Scim-Base-Url` come
/// from the client. Unset: relative URLs.
fn base_url() -> Option<String> {
    let url = crate::settings::string("scim.public_url")?;
    let url = url.trim().trim_end_matches('/');
    let plausible = (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"');
    plausible.then(|| url.to_string())
}

fn route_request(tenant: pgrx::Uuid, req: &Request) -> ScimResult<Reply> {
    let method = Method::parse(req.method)?;
    let route = parse_route(req.path)?;
    if route.is_discovery() {
        return discovery_route(&route, method, Some(tenant)).map(Reply::from);
    }
    if let (Route::Collection(rt), Method::Get) = (&route, method) {
        let list = service::list(tenant, rt, &ListParams::from_query(req.query)?)?;
        return Ok(Reply::list(list));
    }
    if let (Route::Search(Some(rt)), Method::Post) = (&route, method) {
        let params = ListParams::from_search_body(&req.json()?)?;
        return Ok(Reply::list(service::list(tenant, rt, &params)?));
    }
    if let (Route::Resource(rt, id), Method::Get) = (&route, method) {
        return get_resource(tenant, req, rt, id);
    }
    route_resource(tenant, req, route, method)
}

/// GET of one resource: SQL's rendering as it is when that is the
/// projection asked for, else projected in Rust; 304 when If-None-Match
/// names the current version.
fn get_resource(
    tenant: pgrx::Uuid,
    req: &Request,
    rt: &ResourceTypeDef,
    id: &str,
) -> ScimResult<Reply> {
    let rt = store::extensions::tenant_type(tenant, rt)?;
    let q = ListParams::from_query(req.query)?;
    let (attrs, excl) = (q.attributes.as_deref(), q.excluded_attributes.as_deref());
    let not_modified = |version: i64| {
        req.header("if-none-match")
            .is_some_and(|inm| etag::list_matches(inm, version))
    };
    if let Some(rendered) = service::get_rendered(tenant, rt, id, attrs, excl)? {
        let tag = etag::format(rendered.version);
        if not_modified(rendered.version) {
            return Ok(Response::not_modified(&tag).into());
        }
        return Ok(Reply::datum(rendered.body, Some(tag)));
    }
    let full = service::get_full(tenant, rt, id, attrs, excl)?;
    let tag = response::version_of(&full);
    if let Some(tag) = tag
        .as_deref()
        .filter(|t| etag::parse(t).is_some_and(not_modified))
    {
        return Ok(Response::not_modified(tag).into());
    }
    Ok(Response::resource(200, project(rt, &full, attrs, excl)?).into())
}

fn route_resource(
    tenant: pgrx::Uuid,
    req: &Request,
    route: Route,
    method: Method,
) -> ScimResult<Reply> {
    match (route, method) {
        (Route::Search(None), Method::Post) => {
            let params = ListParams::from_search_body(&req.json()?)?;
            Ok(Response::json(200, service::search_all(tenant, &params)?).into())
        }
        (Route::Resource(rt, id), Method::Patch) => {
            let q = ListParams::from_query(req.query)?;
            let (attrs, excl) = (q.attributes.as_deref(), q.excluded_attributes.as_deref());
            let body = req.json()?;
            let patched =
                service::patch(tenant, rt, &id, &body, req.header("if-match"), attrs, excl)?;
            // A group's member list is not read back (PATCH stays O(delta));
            // RFC 7644 §3.5.2 allows 204. `attributes` or `excludedAttributes`
            // ask for the projected resource (200).
            if rt.kind == ResourceKind::Group && attrs.is_none() && excl.is_none() {
                let mut resp = Response::no_content();
                if let Some(tag) = patched.etag() {
                    resp.headers.insert("ETag".into(), Value::String(tag));
                }
                return Ok(resp.into());
            }
            Ok(Reply::written(rt, patched, false))
        }
        (Route::Collection(rt), Method::Post) => {
            let created = service::create(tenant, rt, &req.json()?)?;
            Ok(Reply::written(rt, created, true))
        }
        (Route::Resource(rt, id), Method::Put) => {
            let r = service::replace(tenant, rt, &id, &req.json()?, req.header("if-match"))?;
            Ok(Reply::written(rt, r, false))
        }
        (Route::Resource(rt, id), Method::Delete) => {
            service::delete(tenant, rt, &id, req.header("if-match"))?;
            Ok(Response::no_content().into())
        }
        (Route::Bulk, Method::Post) => {
            Ok(Response::json(200, bulk::run(tenant, &req.json()?)?).into())
        }
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

fn discovery_route(
    route: &Route,
    method: Method,
    tenant: Option<pgrx::Uuid>,
) -> ScimResult<Response> {
    if method != Method::Get {
        return Err(ScimError::new(
            405,
            None,
            "discovery endpoints are read-only",
        ));
    }
    let body = match route {
        Route::ServiceProviderConfig => discovery::service_provider_config(&settings::limits()),
        Route::ResourceTypes(name) => match tenant {
            Some(t) => {
                discovery::resource_types_of(&store::extensions::tenant_types(t)?, name.as_deref())?
            }
            None => discovery::resource_types(name.as_deref())?,
        },
        Route::Schemas(urn) => match tenant {
            Some(t) => discovery::schemas_of(&store::extensions::tenant_types(t)?, urn.as_deref())?,
            None => discovery::schemas(urn.as_deref())?,
        },
        _ => return Err(ScimError::not_found("not a discovery endpoint")),
    };
    Ok(Response::json(200, body))
}
