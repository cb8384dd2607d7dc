//! Writing policies.

use crate::error::OrRaise;
use crate::spi;
use crate::spi::jsonb::JsonArg;
use crate::store::tenant;
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::policy::validate;
use scim_core::{ScimError, ScimResult};
use serde_json::Value;

/// Longest accepted policy name, in bytes.
const MAX_NAME_LEN: usize = 200;

fn check_name(name: &str) -> ScimResult<()> {
    if name.is_empty() || name.trim() != name {
        return Err(ScimError::invalid_value(
            "policy name must be a non-empty string without leading or trailing whitespace",
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ScimError::invalid_value(format!(
            "policy name must be at most {MAX_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

/// The normalised form of a valid document (all four keys, sorted), or a
/// 400 invalidValue naming the offending location.
pub fn normalize(document: &Value) -> ScimResult<Value> {
    validate(document).map(|d| d.to_json())
}

/// Create or replace a policy of the current tenant; returns the stored
/// (normalised) document. Re-putting the same document changes nothing
/// (no new `updated` stamp, no notification).
pub fn put(name: &str, document: &Value) -> ScimResult<Value> {
    check_name(name)?;
    let normalized = normalize(document)?;
    let t = tenant::current()?;
    spi::run(
        "INSERT INTO scim.policies AS p (tenant_id, name, document) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) DO UPDATE SET document = EXCLUDED.document
          WHERE p.document IS DISTINCT FROM EXCLUDED.document",
        &[t.into(), name.into(), JsonB(normalized.clone()).into()],
    )?;
    Ok(normalized)
}

#[pg_extern]
fn scim_policy_put(name: &str, document: JsonArg) -> JsonB {
    JsonB(document.value().and_then(|d| put(name, &d)).or_raise())
}

/// Used by the `scim.policies` BEFORE INSERT/UPDATE trigger.
#[pg_extern(name = "_policy_normalize", immutable, parallel_safe)]
fn policy_normalize(document: JsonArg) -> JsonB {
    JsonB(document.value().and_then(|d| normalize(&d)).or_raise())
}
