//! Token management over HTTP for an admin credential (the same SQL
//! functions `scim_admin` calls, on the credential's own tenant):
//!
//! - `GET /Tokens`: id, label, created, expires, last used, revoked, admin
//!   (never a secret);
//! - `POST /Tokens` `{"label", "expiresIn": seconds, "admin": bool}` → 201
//!   `{"token"}` (shown once);
//! - `POST /Tokens/{id}/rotate` `{"overlapSeconds"}` → 201 `{"token"}`;
//! - `DELETE /Tokens/{id}` → 204 (revoked at once).

use crate::request_context;
use crate::spi;
use scim_core::http::response::Response;
use scim_core::{ScimError, ScimResult};
use serde_json::{json, Value};

use crate::http::Request;

pub const TOKENS_PATH: &str = "/Tokens";

pub fn handles(path: &str) -> bool {
    path == TOKENS_PATH || path.starts_with("/Tokens/")
}

pub fn http(req: &Request) -> ScimResult<Response> {
    if !request_context::credential().admin {
        return Err(ScimError::new(
            403,
            None,
            "managing tokens needs an admin credential",
        ));
    }
    let rest: Vec<&str> = req
        .path
        .trim_start_matches(TOKENS_PATH)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let method = req.method.to_ascii_uppercase();
    let body = || -> ScimResult<Value> {
        match req.body.map(str::trim).filter(|b| !b.is_empty()) {
            None => Ok(json!({})),
            Some(b) => scim_core::http::parse_body(b),
        }
    };
    let seconds = |v: &Value, key: &str| -> ScimResult<Option<f64>> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(n) => n
                .as_f64()
                .filter(|s| *s >= 0.0 && s.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    ScimError::invalid_value(format!("{key} must be a number of seconds"))
                }),
        }
    };
    match (method.as_str(), rest.as_slice()) {
        ("GET", []) => {
            let rows = spi::one_json(
                "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.created, t.id), '[]') FROM scim.scim_tokens() t",
                &[],
            )?;
            Ok(Response::unpaged_list(rows.unwrap_or_default()))
        }
        ("POST", []) => {
            let b = body()?;
            let label = b
                .get("label")
                .and_then(Value::as_str)
                .filter(|l| !l.trim().is_empty())
                .ok_or_else(|| {
                    ScimError::invalid_value("label (a non-empty string) is required")
                })?;
            let admin = match b.get("admin") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(a)) => *a,
                Some(_) => return Err(ScimError::invalid_value("admin must be a boolean")),
            };
            let token = spi::one::<String>(
                "SELECT scim.scim_token_issue($1, make_interval(secs => $2), $3)",
                &[label.into(), seconds(&b, "expiresIn")?.into(), admin.into()],
            )?;
            Ok(Response::json(201, json!({ "token": token })))
        }
        ("POST", [id, "rotate"]) => {
            let overlap = seconds(&body()?, "overlapSeconds")?.unwrap_or(86_400.0);
            let token = spi::one::<String>(
                "SELECT scim.scim_token_rotate($1::uuid, make_interval(secs => $2))",
                &[(*id).into(), overlap.into()],
            )?;
            Ok(Response::json(201, json!({ "token": token })))
        }
        ("DELETE", [id]) => {
            spi::run("SELECT scim.scim_token_revoke($1::uuid)", &[(*id).into()])?;
            Ok(Response::no_content())
        }
        _ => Err(ScimError::new(
            405,
            None,
            format!("{method} is not allowed on {}", req.path),
        )),
    }
}
