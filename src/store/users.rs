//! Users: create, read, replace, delete.

use super::{not_found, parse_id, render, rows, Rendered};
use crate::secrets::hash_password;
use crate::spi;
use crate::spi::jsonb::JsonbDatum;
use pgrx::prelude::*;
use scim_core::resource::{self, Normalized};
use scim_core::schema::{ResourceTypeDef, USER_TYPE};
use scim_core::{ScimError, ScimResult};
use serde_json::Value;

/// Columns promoted out of the resource for indexing.
pub(super) struct Promoted {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
    pub email_values: Vec<String>,
}

pub(super) fn promote(resource: &Value) -> Promoted {
    let s = |k: &str| resource.get(k).and_then(Value::as_str).map(str::to_string);
    Promoted {
        user_name: s("userName").unwrap_or_default(),
        external_id: s("externalId"),
        display_name: s("displayName"),
        active: resource.get("active").and_then(Value::as_bool),
        email_values: resource
            .get("emails")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get("value").and_then(Value::as_str))
                    .map(|v| scim_core::casefold::fold_case(v).into_owned())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub(super) fn taken(user_name: &str) -> ScimError {
    ScimError::uniqueness(format!("userName '{user_name}' is already in use"))
}

pub fn create(tenant: pgrx::Uuid, rt: &ResourceTypeDef, input: &Value) -> ScimResult<Rendered> {
    let Normalized {
        resource, password, ..
    } = resource::normalize(rt, input)?;
    let p = promote(&resource);
    let hash = password.as_deref().map(hash_password).transpose()?;
    let id = super::new_id();
    // created = lastModified: one clock reading, taken here (a
    // `FROM clock_timestamp()` would add a function scan per create).
    // SAFETY: reads the system clock.
    let now = unsafe { pgrx::pg_sys::GetCurrentTimestamp() };
    let clock = pgrx::datetime::TimestampWithTimeZone::try_from(now)
        .map_err(|_| ScimError::new(500, None, "internal error: clock out of range"))?;
    let user_name = p.user_name.clone();
    let args = [
        tenant.into(),
        p.user_name.into(),
        p.external_id.into(),
        p.display_name.into(),
        p.active.into(),
        p.email_values.into(),
        JsonbDatum::from_value_ref(&resource)?.into(),
        hash.into(),
        clock.into(),
        id.into(),
    ];
    // A plain INSERT: the unique index refuses a duplicate (or a racing
    // create of the same userName) and that becomes a clean 409. ON
    // CONFLICT DO NOTHING would probe both unique indexes first and then
    // insert speculatively (~6 µs a create, measured).
    let version = unless_taken(&user_name, || {
        spi::one::<i64>(
            "INSERT INTO scim.users (tenant_id, user_name, external_id, display_name, active, email_values, resource, password_hash, created, last_modified, id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
             RETURNING version",
            &args,
        )
    })?
    .ok_or_else(|| ScimError::new(500, None, "internal error: INSERT returned no row"))?;
    let Value::Object(resource) = resource else {
        return Err(ScimError::new(
            500,
            None,
            "internal error: a resource that is not an object",
        ));
    };
    Ok(Rendered {
        body: JsonbDatum::from_value(render::new_user(resource, &id, now, version))?,
        version,
        id,
    })
}

/// Run a write that the unique userName index may refuse: its
/// unique_violation becomes the SCIM 409. The error is raised again (as
/// ours) by every caller, or rolls back the request's sub-transaction, so
/// nothing runs in the failed statement's state.
fn unless_taken<T>(user_name: &str, write: impl FnOnce() -> ScimResult<T>) -> ScimResult<T> {
    PgTryBuilder::new(std::panic::AssertUnwindSafe(write))
        .catch_when(PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION, |_| {
            Err(taken(user_name))
        })
        .execute()
}

/// The one row of a statement returning (rendering, version, id).
fn one_rendered(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> ScimResult<Option<Rendered>> {
    let mut out = None;
    spi::for_each_row(sql, args, |row| {
        out = match (row.jsonb(1), row.get::<i64>(2), row.get::<pgrx::Uuid>(3)) {
            (Some(body), Some(version), Some(id)) => Some(Rendered { body, version, id }),
            _ => None,
        };
        Ok(())
    })?;
    Ok(out)
}

/// A user's representation as serde JSON (for projecting or editing).
pub fn get(tenant: pgrx::Uuid, id: &str) -> ScimResult<Value> {
    get_rendered(tenant, id)?.body.to_value()
}

/// A user as SQL renders it, kept as the jsonb datum, and its version
/// (for the ETag): what a read with the default projection returns.
pub fn get_rendered(tenant: pgrx::Uuid, id: &str) -> ScimResult<Rendered> {
    let uid = parse_id(&USER_TYPE, id)?;
    one_rendered(
        &format!(
            "SELECT {}, r.version, r.id FROM scim.users r WHERE r.tenant_id = $1 AND r.id = $2",
            render::user_json()
        ),
        &[tenant.into(), uid.into()],
    )?
    .ok_or_else(|| not_found(&USER_TYPE, id))
}

/// Write a new canonical resource (and optionally a new password), bump
/// the version, and return the new representation.
pub fn write(
    tenant: pgrx::Uuid,
    uid: pgrx::Uuid,
    resource: Value,
    password: Option<String>,
) -> ScimResult<Rendered> {
    let p = promote(&resource);
    let hash = password.as_deref().map(hash_password).transpose()?;
    let user_name = p.user_name.clone();
    let args = [
        tenant.into(),
        uid.into(),
        p.user_name.into(),
        p.external_id.into(),
        p.display_name.into(),
        p.active.into(),
        p.email_values.into(),
        JsonbDatum::from_value(resource)?.into(),
        hash.into(),
    ];
    // A userName change can collide with another user's: that is a 409,
    // not a raw unique_violation.
    let result = unless_taken(&user_name, || {
        one_rendered(
            &format!(
                "UPDATE scim.users AS r
                    SET user_name = $3, external_id = $4, display_name = $5, active = $6,
                        email_values = $7, resource = $8,
                        password_hash = coalesce($9, r.password_hash),
                        version = r.version + 1, last_modified = clock_timestamp()
                  WHERE r.tenant_id = $1 AND r.id = $2
                  RETURNING {}, r.version, r.id",
                render::user_json()
            ),
            &args,
        )
    });
    result?.ok_or_else(|| ScimError::new(500, None, "user vanished while locked"))
}

pub fn replace(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
    input: &Value,
    if_match: Option<&str>,
) -> ScimResult<Rendered> {
    let Normalized {
        resource, password, ..
    } = resource::normalize(rt, input)?;
    let (uid, current) = rows::lock_matching(tenant, rt, id, if_match)?;
    scim_core::extension::check_immutable(rt, &current, &resource)?;
    write(tenant, uid, resource, password)
}
