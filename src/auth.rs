//! Bearer tokens: `scim_<token id>_<secret>`, 256-bit random secrets, only
//! a SHA-256 of the secret stored, compared in constant time, one tenant
//! per token, revocable at once, any number active (rotation overlap),
//! optionally expiring (`scim_token_rotate` in sql/credentials.sql sets
//! the old token's end), last use recorded about once a minute.

use crate::error::OrRaise;
use crate::request_context::{self, Credential};
use crate::spi;
use crate::store::{tenant, uuid_text};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pgrx::prelude::*;
use rand::RngCore;
use scim_core::{ScimError, ScimResult};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "scim_";

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Issue a token for the current tenant, valid for `expires_in` (NULL:
/// until revoked); `admin` tokens may also read the provisioning log over
/// HTTP. The secret is returned once and never stored.
#[pg_extern]
fn scim_token_issue(
    label: &str,
    expires_in: default!(Option<Interval>, "NULL"),
    admin: default!(bool, false),
) -> String {
    issue(label, expires_in, admin).or_raise()
}

fn issue(label: &str, expires_in: Option<Interval>, admin: bool) -> ScimResult<String> {
    let t = tenant::current()?;
    let (secret, hash) = new_secret();
    // No row when the lifetime is not positive.
    let id = spi::one::<pgrx::Uuid>(
        "INSERT INTO scim.tokens (tenant_id, label, secret_hash, expires, admin) \
         SELECT $1, $2, $3, clock_timestamp() + $4::interval, $5 \
          WHERE $4::interval IS NULL OR $4::interval > interval '0' RETURNING id",
        &[
            t.into(),
            label.into(),
            hash.into(),
            expires_in.into(),
            admin.into(),
        ],
    )?
    .ok_or_else(|| ScimError::invalid_value("expires_in must be positive"))?;
    Ok(token_text(&id, &secret))
}

/// 256 random bits, URL-safe, and the SHA-256 that is stored instead.
pub fn new_secret() -> (String, Vec<u8>) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let hash = digest(&secret);
    (secret, hash)
}

/// `scim_<token id without dashes>_<secret>`.
pub fn token_text(id: &pgrx::Uuid, secret: &str) -> String {
    format!("{PREFIX}{}_{secret}", uuid_text(id).replace('-', ""))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    bool::from(digest(secret).ct_eq(stored))
}

/// Authentication's one statement, a kept plan (it was a SQL function,
/// which the executor parsed and planned again on every call): the token
/// (unrevoked), whether it has expired, whether its last use is due to be
/// recorded, and the tenant's operating settings. It runs before the
/// tenant is known (the token decides it), as the extension owner, like
/// every entry point that authenticates.
const CREDENTIAL_SQL: &str = "\
    SELECT t.tenant_id, t.secret_hash, t.label, \
           t.expires IS NOT NULL AND t.expires <= clock_timestamp(), \
           t.last_used IS NULL OR t.last_used < clock_timestamp() - interval '1 minute', \
           t.admin, o.rate_per_second, o.rate_burst, \
           coalesce(o.log_reads, false), coalesce(o.log_values, false) \
      FROM scim.tokens t \
      LEFT JOIN scim.tenant_operations o ON o.tenant_id = t.tenant_id \
     WHERE t.id = $1 AND t.revoked IS NULL";

fn unauthorized(detail: &str) -> ScimError {
    ScimError::new(401, None, detail)
}

/// The tenant of a valid, unrevoked bearer token (`Authorization` header
/// value), or 401.
pub fn authenticate(authorization: Option<&str>) -> ScimResult<pgrx::Uuid> {
    let header = authorization
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            unauthorized("authentication required: send Authorization: Bearer <token>")
        })?;
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or_else(|| unauthorized("only Bearer authentication is supported"))?;
    let invalid = || unauthorized("invalid or revoked token");
    let (id, secret) = token
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .ok_or_else(invalid)?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    let mut row = None;
    spi::for_each_row(
        CREDENTIAL_SQL,
        &[pgrx::Uuid::from_bytes(*id.as_bytes()).into()],
        |r| {
            row = Some((
                r.get::<pgrx::Uuid>(1),
                r.get::<Vec<u8>>(2),
                r.get::<bool>(4).unwrap_or(false),
                r.get::<bool>(5).unwrap_or(false),
                Credential {
                    tenant: r.get::<pgrx::Uuid>(1),
                    id: Some(pgrx::Uuid::from_bytes(*id.as_bytes())),
                    label: r.get::<String>(3),
                    admin: r.get::<bool>(6).unwrap_or(false),
                    rate: r.get::<f32>(7).zip(r.get::<i32>(8)),
                    log_reads: r.get::<bool>(9).unwrap_or(false),
                    log_values: r.get::<bool>(10).unwrap_or(false),
                },
            ));
            Ok(())
        },
    )?;
    let Some((Some(tenant), Some(stored), expired, touch_due, credential)) = row else {
        return Err(invalid());
    };
    if !secret_matches(secret, &stored) {
        return Err(invalid());
    }
    // Known to be this tenant's credential from here on (the log says who).
    request_context::set_credential(credential);
    if expired {
        return Err(unauthorized("the token expired"));
    }
    // At most about once a minute per token, and never on a hot standby
    // (read-only; the gateway sends reads there).
    // SAFETY: reads shared memory state, no side effects.
    if touch_due && !unsafe { pg_sys::RecoveryInProgress() } {
        spi::run(
            "SELECT scim._credential_touch($1)",
            &[pgrx::Uuid::from_bytes(*id.as_bytes()).into()],
        )?;
    }
    Ok(tenant)
}
