//! `/Bulk` and `scim_bulk`: each operation runs through `scim._http`,
//! i.e. the same dispatcher as a single request, in its own
//! sub-transaction (one failed operation leaves no partial write and does
//! not undo the others).

use crate::error::OrRaise;
use crate::settings;
use crate::spi;
use crate::spi::jsonb::JsonArg;
use crate::store::tenant;
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::http::bulk::{self, OpResult};
use scim_core::{ScimError, ScimResult};
use serde_json::{json, Value};

pub fn run(tenant: pgrx::Uuid, body: &Value) -> ScimResult<Value> {
    let req = bulk::parse(body, &settings::limits())?;
    let mut failure: Option<ScimError> = None;
    let out = bulk::run(&req, |method, path, version, data| {
        match exec(tenant, method, path, version, data) {
            Ok(r) => r,
            Err(e) => {
                failure.get_or_insert(e.clone());
                OpResult {
                    status: e.status,
                    location: None,
                    version: None,
                    body: Some(e.to_body()),
                }
            }
        }
    });
    match failure {
        // An SPI failure is ours, not the operation's: fail the whole call.
        Some(e) if e.status >= 500 => Err(e),
        _ => Ok(out),
    }
}

fn exec(
    tenant: pgrx::Uuid,
    method: &str,
    path: &str,
    version: Option<&str>,
    data: Option<&Value>,
) -> ScimResult<OpResult> {
    let headers = match version {
        Some(v) => json!({ "if-match": v }),
        None => json!({}),
    };
    let body = data.map(|d| d.to_string());
    let mut out = None;
    spi::for_each_row(
        "SELECT status, headers, body FROM scim._http($1, $2, $3, '', $4, $5)",
        &[
            tenant.into(),
            method.into(),
            path.into(),
            JsonB(headers).into(),
            body.into(),
        ],
        |row| {
            out = Some((row.get::<i32>(1), row.json(2)?, row.json(3)?));
            Ok(())
        },
    )?;
    let Some((status, hdrs, resp)) = out else {
        return Err(ScimError::new(
            500,
            None,
            "internal error: scim._http returned no row",
        ));
    };
    let hdrs = hdrs.unwrap_or(Value::Null);
    let header = |n: &str| hdrs.get(n).and_then(Value::as_str).map(str::to_string);
    let status = status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500);
    Ok(OpResult {
        status,
        // For PUT/PATCH/DELETE the location is the resource path itself.
        location: header("Location").or_else(|| (status < 300).then(|| path.to_string())),
        version: header("ETag"),
        body: resp,
    })
}

/// Bulk for SQL callers (tenant = GUC scim.tenant).
#[pg_extern]
fn scim_bulk(request: JsonArg) -> JsonB {
    JsonB(
        request
            .value()
            .and_then(|r| run(tenant::current()?, &r))
            .or_raise(),
    )
}
