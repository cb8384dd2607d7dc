//! Gateway-side failures, answered with SCIM error bodies (RFC 7644 §3.12).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Something the gateway itself answers, without a (successful) SQL call.
#[derive(Debug)]
pub enum GatewayError {
    /// Path outside the SCIM base path.
    NotFound,
    /// Request body larger than `--max-body-bytes`.
    PayloadTooLarge(usize),
    /// Body that cannot be passed to PostgreSQL as text (not UTF-8, NUL byte)
    /// or could not be read.
    BadBody(&'static str),
    /// No connection in time, database unreachable, timeout. The string is
    /// logged, not sent.
    Unavailable(String),
    /// Unexpected SQL error or malformed result. The string is logged, not sent.
    Internal(String),
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        match self {
            GatewayError::NotFound => scim_error(StatusCode::NOT_FOUND, None, "Resource not found"),
            GatewayError::PayloadTooLarge(limit) => {
                let mut resp = scim_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    &format!("Request body exceeds the maximum of {limit} bytes"),
                );
                // The rest of the body is never read, so the connection
                // closes after this response: say so, or a client may send
                // its next request on it and see the connection drop.
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                resp
            }
            GatewayError::BadBody(detail) => {
                scim_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
            }
            GatewayError::Unavailable(cause) => {
                eprintln!("scim-gateway: database unavailable: {cause}");
                scim_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "The service is temporarily unavailable, retry later",
                )
            }
            GatewayError::Internal(cause) => {
                eprintln!("scim-gateway: internal error: {cause}");
                scim_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "Internal server error",
                )
            }
        }
    }
}

/// A SCIM error response: `{"schemas":[…Error],"status":"NNN",["scimType":…,]"detail":…}`.
pub fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), serde_json::json!([ERROR_SCHEMA]));
    body.insert("status".into(), status.as_str().into());
    if let Some(t) = scim_type {
        body.insert("scimType".into(), t.into());
    }
    body.insert("detail".into(), detail.into());
    let mut resp = (status, serde_json::Value::Object(body).to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    resp
}
