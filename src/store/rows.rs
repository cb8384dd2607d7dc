//! What users and groups share: their table, the writer's row lock, and
//! delete.

use super::{members, not_found, parse_id};
use crate::spi;
use scim_core::http::etag::check_if_match;
use scim_core::schema::{ResourceKind, ResourceTypeDef};
use scim_core::ScimResult;
use serde_json::Value;

pub fn table(rt: &ResourceTypeDef) -> &'static str {
    match rt.kind {
        ResourceKind::User => "scim.users",
        ResourceKind::Group => "scim.groups",
    }
}

/// Lock the row for writing and return (id, version, stored resource).
/// NO KEY UPDATE serialises the writers of one row without blocking
/// membership inserts that reference it.
pub fn lock(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
) -> ScimResult<(pgrx::Uuid, i64, Value)> {
    let rid = parse_id(rt, id)?;
    let sql = format!(
        "SELECT version, resource FROM {} WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE",
        table(rt)
    );
    let mut found = None;
    spi::for_each_row(&sql, &[tenant.into(), rid.into()], |row| {
        found = Some((row.get::<i64>(1), row.json(2)?));
        Ok(())
    })?;
    match found {
        Some((Some(v), Some(r))) => Ok((rid, v, r)),
        _ => Err(not_found(rt, id)),
    }
}

/// [`lock`], then If-Match against the locked version (412 on mismatch).
pub fn lock_matching(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
    if_match: Option<&str>,
) -> ScimResult<(pgrx::Uuid, Value)> {
    let (rid, version, resource) = lock(tenant, rt, id)?;
    check_if_match(if_match, version)?;
    Ok((rid, resource))
}

/// Delete a user or group. Its memberships (and a group's own member rows
/// and policy bindings) go with it in the same transaction, by trigger and
/// FK cascade.
pub fn delete(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
    if_match: Option<&str>,
) -> ScimResult<()> {
    members::lock_parent_groups(tenant, parse_id(rt, id)?)?;
    let (rid, _) = lock_matching(tenant, rt, id, if_match)?;
    spi::run(
        &format!("DELETE FROM {} WHERE tenant_id = $1 AND id = $2", table(rt)),
        &[tenant.into(), rid.into()],
    )
}
