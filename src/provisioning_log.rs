//! The provisioning log's write side and its HTTP read side.
//!
//! `scim._http` calls [`finish`] after every request's sub-transaction,
//! committed or rolled back, so failed requests are logged too. What the
//! request learnt on its way (credential, tenant, target, version before)
//! comes from [`request_context`]; what it answered (status, scimType,
//! detail, ETag) from the wrapper. Writes and failures are always logged,
//! reads only when the tenant opted in; nothing is written on a hot
//! standby (read-only). The same call hands the gateway its internal
//! headers (tenant, rate limit), which it strips.

use crate::error::OrRaise;
use crate::http::Request;
use crate::request_context::{self, Target};
use crate::spi;
use crate::store::uuid_text;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::filter::GROUP_VERSION_SQL;
use scim_core::http::query::decode_component;
use scim_core::http::response::Response;
use scim_core::http::route::{parse_route, Route};
use scim_core::provisioning;
use scim_core::schema::ResourceKind;
use scim_core::{ScimError, ScimResult};
use serde_json::{json, Map, Value};

pub const LOG_PATH: &str = "/ProvisioningLog";

/// `scim.provisioning_log` (SUSET, default on): off writes no log rows
/// (the benchmark's baseline; an emergency switch). A session cannot turn
/// it off for itself unless it is a superuser.
static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);

/// Register the setting (from `_PG_init`).
pub fn register() {
    GucRegistry::define_bool_guc(
        c"scim.provisioning_log",
        c"Write the provisioning log (writes, failures, opted-in reads).",
        c"",
        &ENABLED,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// Internal response headers the gateway reads and strips (never sent to
/// clients); only added when the caller asks with [`INTERNAL_REQUEST`].
pub const INTERNAL_REQUEST: &str = "x-scim-internal";
const TENANT_HEADER: &str = "X-Scim-Internal-Tenant";
const RATE_HEADER: &str = "X-Scim-Internal-Rate-Limit";

/// Remember what a resource request addresses, and for a group's
/// PUT/PATCH/DELETE the version before it (one index probe: a
/// membership-only PATCH takes no row lock to read it under). A user's
/// write reads it under its row lock (`request_context::note_version_before`).
pub fn note_target(tenant: pgrx::Uuid, req: &Request) {
    let Ok(route) = parse_route(req.path) else {
        return;
    };
    let (rt, id) = match route {
        Route::Collection(rt) => (rt, None),
        Route::Resource(rt, id) => (rt, Some(id)),
        _ => return,
    };
    let version_before = id
        .as_deref()
        .filter(|_| rt.kind == ResourceKind::Group && writes(req.method))
        .and_then(|id| current_version(tenant, rt.kind, id));
    request_context::set_target(Target {
        resource_type: Some(rt.name),
        resource_id: id,
        version_before,
    });
}

fn writes(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "PUT" | "PATCH" | "DELETE"
    )
}

/// The committed version of a resource (None: it does not exist).
fn current_version(tenant: pgrx::Uuid, kind: ResourceKind, id: &str) -> Option<i64> {
    let id = uuid::Uuid::parse_str(id.trim()).ok()?;
    let sql = match kind {
        ResourceKind::User => {
            "SELECT r.version FROM scim.users r WHERE r.tenant_id = $1 AND r.id = $2".into()
        }
        ResourceKind::Group => format!(
            "SELECT {GROUP_VERSION_SQL} FROM scim.groups r WHERE r.tenant_id = $1 AND r.id = $2"
        ),
    };
    let id = pgrx::Uuid::from_bytes(*id.as_bytes());
    spi::one::<i64>(&sql, &[tenant.into(), id.into()])
        .ok()
        .flatten()
}

/// A failed write that never reached its row lock (a bad body, say) has
/// no version before yet; its work is rolled back, so the version now is
/// the version before.
fn version_before_failed(target: &Target, tenant: Option<pgrx::Uuid>) -> Option<i64> {
    let rt = crate::store::resource_type(target.resource_type?).ok()?;
    current_version(tenant?, rt.kind, target.resource_id.as_deref()?)
}

/// After one request (`nested`: a Bulk operation): log it when it must be,
/// and return the internal headers for the gateway (`internal`).
#[allow(clippy::too_many_arguments)]
pub fn finish(
    nested: bool,
    internal: bool,
    method: &str,
    path: &str,
    request_id: Option<&str>,
    body: Option<&str>,
    status: i32,
    scim_type: Option<&str>,
    detail: Option<&str>,
    etag: Option<&str>,
    created_id: Option<&str>,
    started: Option<TimestampWithTimeZone>,
) -> Option<Map<String, Value>> {
    let credential = request_context::credential();
    let mut target = request_context::take_target();
    let upper = method.to_ascii_uppercase();
    let read = matches!(upper.as_str(), "GET" | "HEAD") || path.ends_with("/.search");
    // SAFETY: reads shared memory state, no side effects.
    let standby = unsafe { pg_sys::RecoveryInProgress() };
    if ENABLED.get() && (!read || status >= 400 || credential.log_reads) && !standby {
        if !read && status >= 400 && target.version_before.is_none() {
            target.version_before = version_before_failed(&target, credential.tenant);
        }
        let row = LogRow {
            method: &upper,
            path,
            request_id,
            status,
            scim_type,
            detail,
            started,
            version_after: if status < 300 {
                etag.and_then(scim_core::http::etag::parse)
            } else {
                target.version_before
            },
            attributes: if read || target.resource_type.is_none() {
                None
            } else {
                body.and_then(|b| serde_json::from_str::<Value>(b).ok())
                    .and_then(|v| provisioning::written_attributes(&upper, &v))
            },
            request_body: if credential.log_values && !read {
                body.and_then(|b| serde_json::from_str::<Value>(b).ok())
                    .map(provisioning::redact_passwords)
            } else {
                None
            },
            resource_id: target
                .resource_id
                .clone()
                .or_else(|| created_id.map(str::to_string)),
            target,
        };
        write(&credential, row).or_raise();
    }
    if !internal || nested {
        return None;
    }
    let tenant = credential.tenant?;
    let mut headers = Map::new();
    headers.insert(TENANT_HEADER.into(), json!(uuid_text(&tenant)));
    if let Some((rate, burst)) = credential.rate {
        headers.insert(RATE_HEADER.into(), json!(format!("{rate} {burst}")));
    }
    Some(headers)
}

struct LogRow<'a> {
    method: &'a str,
    path: &'a str,
    request_id: Option<&'a str>,
    status: i32,
    scim_type: Option<&'a str>,
    detail: Option<&'a str>,
    started: Option<TimestampWithTimeZone>,
    version_after: Option<i64>,
    attributes: Option<Vec<String>>,
    request_body: Option<Value>,
    resource_id: Option<String>,
    target: Target,
}

fn write(credential: &request_context::Credential, row: LogRow) -> ScimResult<()> {
    // Paths and ids are client text: kept, but bounded.
    let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    let id = spi::one::<i64>(
        "INSERT INTO scim.provisioning_log (tenant_id, credential_id, credential_label, method, path, \
             resource_type, resource_id, status, scim_type, detail, request_id, duration_ms, \
             version_before, version_after, attributes, request_body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                 extract(epoch FROM clock_timestamp() - $12) * 1000, $13, $14, $15, $16) \
         RETURNING id",
        &[
            credential.tenant.into(),
            credential.id.into(),
            credential.label.clone().into(),
            row.method.into(),
            clip(row.path, 2048).into(),
            row.target.resource_type.into(),
            row.resource_id.map(|s| clip(&s, 256)).into(),
            row.status.into(),
            row.scim_type.into(),
            row.detail.map(|d| clip(d, 2048)).into(),
            row.request_id.map(|r| clip(r, 200)).into(),
            row.started.into(),
            row.target.version_before.into(),
            row.version_after.into(),
            row.attributes.into(),
            row.request_body.map(JsonB).into(),
        ],
    )?;
    if id.is_some_and(|n| n % 4096 == 0) {
        spi::run("SELECT scim.scim_provisioning_log_prune()", &[])?;
    }
    Ok(())
}

/// `GET /ProvisioningLog?since=&until=&status=&resourceType=&resourceId=&count=&before=`
/// for an admin credential: the tenant's log, newest first, as a
/// ListResponse. `status` is `409`, `4xx` or `5xx`.
pub fn http_get(req: &Request) -> ScimResult<Response> {
    if !req.method.eq_ignore_ascii_case("GET") {
        return Err(ScimError::new(
            405,
            None,
            "the provisioning log is read-only",
        ));
    }
    if !request_context::credential().admin {
        return Err(ScimError::new(
            403,
            None,
            "reading the provisioning log needs an admin credential",
        ));
    }
    let mut p = Map::new();
    for pair in req.query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode_component(v, true);
        if v.contains('\0') {
            return Err(ScimError::invalid_value("a query parameter contains NUL"));
        }
        p.insert(decode_component(k, true).to_ascii_lowercase(), json!(v));
    }
    let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let int = |k: &str| -> ScimResult<Option<i64>> {
        text(k)
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ScimError::invalid_value(format!("{k} must be an integer")))
            })
            .transpose()
    };
    let (min_status, max_status) = match text("status").as_deref() {
        None => (None, None),
        Some(s) if s.len() == 3 && s.ends_with("xx") => {
            let class = s
                .get(..1)
                .and_then(|c| c.parse::<i32>().ok())
                .ok_or_else(|| ScimError::invalid_value("status is like 409 or 4xx"))?;
            (Some(class * 100), Some(class * 100 + 99))
        }
        Some(s) => {
            let n = s
                .parse::<i32>()
                .map_err(|_| ScimError::invalid_value("status is like 409 or 4xx"))?;
            (Some(n), Some(n))
        }
    };
    let count = int("count")?.unwrap_or(100).clamp(1, 1000) as i32;
    let rows = spi::one_json(
        "SELECT coalesce(jsonb_agg(jsonb_strip_nulls(to_jsonb(l) - 'tenant_id')), '[]') \
           FROM scim.scim_provisioning_log($1::timestamptz, $2::timestamptz, $3, $4, $5, $6, $7, $8) l",
        &[
            text("since").into(),
            text("until").into(),
            min_status.into(),
            max_status.into(),
            text("resourcetype").into(),
            text("resourceid").into(),
            int("before")?.into(),
            count.into(),
        ],
    )?;
    Ok(Response::unpaged_list(rows.unwrap_or_default()))
}
