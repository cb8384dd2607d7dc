//! OAuth 2.0 client credentials grant (RFC 6749 §4.4): `POST
//! {base}/oauth/token` with `grant_type=client_credentials` and the
//! client's credentials in HTTP Basic or in the form (§2.3.1, not both)
//! returns a short-lived opaque bearer token (§5.1): an ordinary token row
//! with an expiry, so every other endpoint authenticates it as usual.
//! Errors are §5.2 bodies, answered (not raised): nothing was written.

use crate::auth;
use crate::error::OrRaise;
use crate::http::Request;
use crate::request_context::{self, Credential};
use crate::spi;
use crate::store::tenant;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pgrx::prelude::*;
use scim_core::http::query::decode_component;
use scim_core::http::response::Response;
use scim_core::{ScimError, ScimResult};
use serde_json::{json, Map, Value};

pub const TOKEN_PATH: &str = "/oauth/token";

/// A new client of the current tenant. The secret is returned once.
#[pg_extern]
fn scim_oauth_client_create(
    label: &str,
    token_lifetime: default!(Option<Interval>, "NULL"),
    admin: default!(bool, false),
) -> TableIterator<'static, (name!(client_id, pgrx::Uuid), name!(client_secret, String))> {
    let created = create_client(label, token_lifetime, admin).or_raise();
    TableIterator::once(created)
}

fn create_client(
    label: &str,
    lifetime: Option<Interval>,
    admin: bool,
) -> ScimResult<(pgrx::Uuid, String)> {
    let t = tenant::current()?;
    let (secret, hash) = auth::new_secret();
    let id = spi::one::<pgrx::Uuid>(
        "INSERT INTO scim.oauth_clients (tenant_id, label, secret_hash, admin, token_lifetime) \
         SELECT $1, $2, $3, $4, coalesce($5::interval, interval '1 hour') \
          WHERE $5::interval IS NULL OR ($5::interval > interval '0' AND $5::interval <= interval '1 day') \
         RETURNING id",
        &[t.into(), label.into(), hash.into(), admin.into(), lifetime.into()],
    )?
    .ok_or_else(|| {
        ScimError::invalid_value("token_lifetime must be positive and at most one day")
    })?;
    Ok((id, secret))
}

/// An RFC 6749 §5.2 error.
struct OAuthError {
    status: u16,
    code: &'static str,
    description: &'static str,
}

fn error(status: u16, code: &'static str, description: &'static str) -> OAuthError {
    OAuthError {
        status,
        code,
        description,
    }
}

fn invalid_client() -> OAuthError {
    error(401, "invalid_client", "client authentication failed")
}

fn respond(status: u16, body: Value) -> Response {
    let mut headers = Map::new();
    headers.insert("Content-Type".into(), json!("application/json"));
    headers.insert("Cache-Control".into(), json!("no-store"));
    headers.insert("Pragma".into(), json!("no-cache"));
    if status == 401 {
        headers.insert(
            "WWW-Authenticate".into(),
            json!("Basic realm=\"scim\", charset=\"UTF-8\""),
        );
    }
    Response {
        status,
        headers,
        body: Some(body),
    }
}

/// `POST /oauth/token`.
pub fn token(req: &Request) -> ScimResult<Response> {
    match grant(req) {
        Ok(r) => Ok(r),
        Err(Grant::OAuth(e)) => Ok(respond(
            e.status,
            json!({"error": e.code, "error_description": e.description}),
        )),
        Err(Grant::Internal(e)) => Err(e),
    }
}

enum Grant {
    OAuth(OAuthError),
    Internal(ScimError),
}

impl From<OAuthError> for Grant {
    fn from(e: OAuthError) -> Self {
        Grant::OAuth(e)
    }
}

impl From<ScimError> for Grant {
    fn from(e: ScimError) -> Self {
        Grant::Internal(e)
    }
}

fn grant(req: &Request) -> Result<Response, Grant> {
    if !req.method.eq_ignore_ascii_case("POST") {
        return Err(error(405, "invalid_request", "use POST").into());
    }
    let form = parse_form(req.body.unwrap_or(""))?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        None => return Err(error(400, "invalid_request", "grant_type is required").into()),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(error(
                400,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
            .into())
        }
    }
    let basic = basic_credentials(req.header("authorization"))?;
    let in_form = field("client_id").zip(field("client_secret"));
    let (client_id, secret) = match (basic, in_form) {
        (Some(_), Some(_)) => {
            return Err(error(
                400,
                "invalid_request",
                "use one client authentication method, not both",
            )
            .into())
        }
        (Some((id, secret)), None) => (id, secret),
        (None, Some((id, secret))) => (id.to_string(), secret.to_string()),
        (None, None) => {
            return Err(error(
                400,
                "invalid_request",
                "client_id and client_secret are required (HTTP Basic or form)",
            )
            .into())
        }
    };
    let client = uuid::Uuid::parse_str(&client_id).map_err(|_| invalid_client())?;
    let client = pgrx::Uuid::from_bytes(*client.as_bytes());
    let mut row = None;
    spi::for_each_row(
        "SELECT tenant_id, label, secret_hash, admin, lifetime_seconds FROM scim._oauth_client($1)",
        &[client.into()],
        |r| {
            row = Some((
                r.get::<pgrx::Uuid>(1),
                r.get::<String>(2),
                r.get::<Vec<u8>>(3),
                r.get::<bool>(4).unwrap_or(false),
                r.get::<i64>(5).unwrap_or(3600),
            ));
            Ok(())
        },
    )?;
    let Some((Some(tenant), label, Some(stored), admin, lifetime)) = row else {
        return Err(invalid_client().into());
    };
    if !auth::secret_matches(&secret, &stored) {
        return Err(invalid_client().into());
    }
    request_context::set_credential(Credential {
        tenant: Some(tenant),
        id: Some(client),
        label: label.clone(),
        admin,
        ..Credential::default()
    });
    let (token_secret, hash) = auth::new_secret();
    let token_label = format!("oauth:{}", label.unwrap_or_default());
    let id = spi::one::<pgrx::Uuid>(
        "INSERT INTO scim.tokens (tenant_id, label, secret_hash, expires, admin, oauth_client) \
         VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4), $5, $6) RETURNING id",
        &[
            tenant.into(),
            token_label.into(),
            hash.into(),
            (lifetime as f64).into(),
            admin.into(),
            client.into(),
        ],
    )?
    .ok_or_else(|| ScimError::new(500, None, "token insert returned nothing"))?;
    // Access tokens expired for a day are of no use to anyone: drop them.
    spi::run(
        "DELETE FROM scim.tokens WHERE oauth_client = $1 AND expires < clock_timestamp() - interval '1 day'",
        &[client.into()],
    )?;
    Ok(respond(
        200,
        json!({
            "access_token": auth::token_text(&id, &token_secret),
            "token_type": "Bearer",
            "expires_in": lifetime,
        }),
    ))
}

/// `application/x-www-form-urlencoded` pairs; a parameter given twice is
/// an error (RFC 6749 §3.2).
fn parse_form(body: &str) -> Result<Vec<(String, String)>, OAuthError> {
    let mut out: Vec<(String, String)> = vec![];
    for pair in body.trim().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode_component(k, true), decode_component(v, true));
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(error(400, "invalid_request", "a parameter is repeated"));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`
/// (RFC 6749 §2.3.1); `None` when no Basic credentials were sent.
fn basic_credentials(header: Option<&str>) -> Result<Option<(String, String)>, OAuthError> {
    let Some((scheme, value)) = header.map(str::trim).and_then(|h| h.split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid_client)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    Ok(Some((
        decode_component(id, true),
        decode_component(secret, true),
    )))
}
