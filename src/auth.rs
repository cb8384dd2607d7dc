//! Bearer tokens: `scim_<token id>_<secret>`, 256-bit random secrets, only
//! a SHA-256 of the secret stored, compared in constant time, one tenant
//! per token, revocable at once, any number active (rotation overlap).

use crate::error::OrRaise;
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

/// Issue a token for the current tenant. The secret is returned once and
/// never stored.
#[pg_extern]
fn scim_token_issue(label: &str) -> String {
    issue(label).or_raise()
}

fn issue(label: &str) -> ScimResult<String> {
    let t = tenant::current()?;
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let id = spi::one::<pgrx::Uuid>(
        "INSERT INTO scim.tokens (tenant_id, label, secret_hash) VALUES ($1, $2, $3) RETURNING id",
        &[t.into(), label.into(), digest(&secret).into()],
    )?
    .ok_or_else(|| ScimError::new(500, None, "token insert returned nothing"))?;
    Ok(format!(
        "{PREFIX}{}_{secret}",
        uuid_text(&id).replace('-', "")
    ))
}

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
    let row = spi::two::<pgrx::Uuid, Vec<u8>>(
        "SELECT tenant_id, secret_hash FROM scim._token_secret($1)",
        &[pgrx::Uuid::from_bytes(*id.as_bytes()).into()],
    )?;
    let Some((Some(tenant), Some(stored))) = row else {
        return Err(invalid());
    };
    if bool::from(digest(secret).ct_eq(&stored)) {
        Ok(tenant)
    } else {
        Err(invalid())
    }
}
