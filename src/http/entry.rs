//! `scim._http`: one request in a sub-transaction. A request that fails
//! leaves no partial write, and its error becomes a SCIM error response
//! (`scim._http_error`, sql/http.sql). Then, outside the sub-transaction,
//! the provisioning log (so a failed request is logged although its work
//! rolled back) and the internal headers a gateway asked for
//! (`x-scim-internal`). `tenant` NULL means "authenticate by the bearer
//! token"; Bulk passes the tenant it already authenticated. Owner-only:
//! Bulk calls it, and `scim.scim_http` (below) is the same for a request
//! authenticated by its token.
//!
//! Rust rather than PL/pgSQL: the wrapper's statements (the block, the
//! jsonb field reads, the row) cost about a fifth of a GET.

use super::{answer, Reply};
use crate::error::OrRaise;
use crate::provisioning_log;
use crate::spi;
use crate::spi::jsonb::{JsonArg, JsonbDatum};
use crate::subtransaction::{self, Failure};
use pgrx::pg_sys;
use pgrx::prelude::*;
use scim_core::{ScimError, ScimResult};
use serde_json::{Map, Value};

/// `scim.scim_http(method, path, query, headers, body)`: what the gateway
/// calls, authenticated by the request's bearer token (SECURITY DEFINER
/// and its search_path from sql/grants.sql, like every entry point).
#[pg_extern(requires = ["http"])]
fn scim_http(
    method: &str,
    path: &str,
    query: default!(Option<&str>, "NULL"),
    headers: default!(Option<JsonArg>, "'{}'"),
    body: default!(Option<&str>, "NULL"),
) -> HttpResponseRow {
    http(None, method, path, query, headers, body)
}

#[pg_extern(name = "_http", requires = ["http"])]
fn http(
    tenant: Option<pgrx::Uuid>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Option<JsonArg>,
    body: Option<&str>,
) -> HttpResponseRow {
    let started = now();
    let headers = headers.map_or(Ok(Value::Null), JsonArg::value);
    let header = |name: &str| {
        headers
            .as_ref()
            .ok()
            .and_then(|h| h.get(name))
            .and_then(json_text)
    };
    let internal = header(provisioning_log::INTERNAL_REQUEST).as_deref() == Some("1");
    let request_id = header("x-request-id");
    let answered =
        subtransaction::run(|| answer(tenant, method, path, query, headers.as_ref(), body));
    let mut out = match answered {
        Ok(reply) => Outgoing::from(reply),
        Err(failure) => Outgoing::error(failure).or_raise(),
    };
    let extra = provisioning_log::finish(
        tenant.is_some(),
        internal,
        method,
        path,
        request_id.as_deref(),
        body,
        out.status,
        out.error_field("scimType").as_deref(),
        out.error_field("detail")
            .or_else(|| out.error_field("error_description"))
            .as_deref(),
        out.headers.get("ETag").and_then(Value::as_str),
        out.created_id().as_deref(),
        started,
    );
    if let Some(extra) = extra {
        out.headers.extend(extra);
    }
    out.into_row().or_raise()
}

/// A JSON value as jsonb's `->>` gives it (headers, error fields): strings
/// as they are, other values in their text form, JSON null as none.
fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// clock_timestamp(): the request's start, for its logged duration.
fn now() -> Option<TimestampWithTimeZone> {
    // SAFETY: reads the clock.
    TimestampWithTimeZone::try_from(unsafe { pg_sys::GetCurrentTimestamp() }).ok()
}

/// The response on its way out: status and headers in Rust, the body as
/// serde JSON or as the jsonb datum SQL built.
struct Outgoing {
    status: i32,
    headers: Map<String, Value>,
    body: Body,
}

enum Body {
    None,
    Json(Value),
    Datum(JsonbDatum),
}

impl From<Reply> for Outgoing {
    fn from(reply: Reply) -> Outgoing {
        match reply {
            Reply::Json(r) => Outgoing {
                status: i32::from(r.status),
                headers: r.headers,
                body: r.body.map_or(Body::None, Body::Json),
            },
            Reply::Datum { head, body } => Outgoing {
                status: i32::from(head.status),
                headers: head.headers,
                body: Body::Datum(body),
            },
        }
    }
}

impl Outgoing {
    /// The SCIM error response for a rolled-back request: one mapping for
    /// SCIM errors and SQL errors alike (`scim._http_error`).
    fn error(failure: Failure) -> ScimResult<Outgoing> {
        let (sqlstate, message, detail) = match failure {
            Failure::Scim(e) => (
                crate::error::sqlstate_text(&e),
                e.detail.clone(),
                Some(e.detail_json().to_string()),
            ),
            Failure::Sql {
                sqlstate,
                message,
                detail,
            } => (sqlstate, message, detail),
        };
        let mut out = None;
        spi::for_each_row(
            "SELECT e.status, e.headers, e.body FROM scim._http_error($1, $2, $3) e",
            &[sqlstate.into(), message.into(), detail.into()],
            |row| {
                let headers = match row.json(2)? {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                out = Some(Outgoing {
                    status: row.get::<i32>(1).unwrap_or(500),
                    headers,
                    body: row.json(3)?.map_or(Body::None, Body::Json),
                });
                Ok(())
            },
        )?;
        out.ok_or_else(|| ScimError::new(500, None, "internal error: no error response"))
    }

    /// A string field of an error body (status 400 and above).
    fn error_field(&self, key: &str) -> Option<String> {
        match (&self.body, self.status >= 400) {
            (Body::Json(b), true) => b.get(key).and_then(json_text),
            _ => None,
        }
    }

    /// The id of a created resource (201): the body's, or for a body SQL
    /// rendered, the last segment of its Location.
    fn created_id(&self) -> Option<String> {
        if self.status != 201 {
            return None;
        }
        match &self.body {
            Body::Json(b) => b.get("id").and_then(json_text),
            _ => self
                .headers
                .get("Location")
                .and_then(Value::as_str)
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_string),
        }
    }

    fn into_row(self) -> ScimResult<HttpResponseRow> {
        let headers = JsonbDatum::from_value(Value::Object(self.headers))?;
        let body = match self.body {
            Body::None => None,
            Body::Json(v) => Some(JsonbDatum::from_value(v)?),
            Body::Datum(d) => Some(d),
        };
        HttpResponseRow::new(self.status, headers, body)
    }
}

/// A `scim.http_response` (status int, headers jsonb, body jsonb) datum.
pub struct HttpResponseRow(pg_sys::Datum);

impl HttpResponseRow {
    fn new(status: i32, headers: JsonbDatum, body: Option<JsonbDatum>) -> ScimResult<Self> {
        let internal = |what: &str| ScimError::new(500, None, format!("internal error: {what}"));
        let mut nulls = [false, false, body.is_none()];
        let mut values = [
            pg_sys::Datum::from(status),
            headers.into_datum().unwrap_or(pg_sys::Datum::from(0)),
            body.and_then(IntoDatum::into_datum)
                .unwrap_or(pg_sys::Datum::from(0)),
        ];
        // SAFETY: the composite type's catalog entries are looked up by
        // name (a composite type has a pg_class row); the tuple is formed
        // with its descriptor from the type cache (reference released
        // after use), and the datum made the way a C function returns a
        // composite (HeapTupleHeaderGetDatum flattens any toasted field).
        unsafe {
            let namespace = pg_sys::get_namespace_oid(c"scim".as_ptr(), false);
            let relation = pg_sys::get_relname_relid(c"http_response".as_ptr(), namespace);
            let type_id = pg_sys::get_rel_type_id(relation);
            if type_id == pg_sys::InvalidOid {
                return Err(internal("type scim.http_response is missing"));
            }
            let desc = pg_sys::lookup_rowtype_tupdesc(type_id, -1);
            if (*desc).natts != 3 {
                pg_sys::DecrTupleDescRefCount(desc);
                return Err(internal(
                    "scim.http_response is not (status, headers, body)",
                ));
            }
            let tuple = pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr());
            pg_sys::DecrTupleDescRefCount(desc);
            Ok(HttpResponseRow(pg_sys::HeapTupleHeaderGetDatum(
                (*tuple).t_data,
            )))
        }
    }
}

// The SQL type is the composite scim.http_response (sql/http.sql).
pgrx::impl_sql_translatable!(HttpResponseRow, "scim.http_response");

// SAFETY: the datum was made in the function's memory context.
unsafe impl pgrx::callconv::BoxRet for HttpResponseRow {
    unsafe fn box_into<'fcx>(
        self,
        fcinfo: &mut pgrx::callconv::FcInfo<'fcx>,
    ) -> pgrx::datum::Datum<'fcx> {
        fcinfo.return_raw_datum(self.0)
    }
}
