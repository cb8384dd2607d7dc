//! What users and groups share: their table, the writer's row lock, and
//! delete.

use super::{members, not_found, parse_id};
use crate::spi;
use scim_core::filter::GROUP_VERSION_SQL;
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
/// membership-only writers (KEY SHARE, src/store/patch.rs); a group's
/// version counts their committed writes. Every write under this lock
/// updates the row, so a writer that waited here re-reads the row it
/// waited for (READ COMMITTED) and sees the version move.
pub fn lock(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
) -> ScimResult<(pgrx::Uuid, i64, Value)> {
    let rid = parse_id(rt, id)?;
    let version = match rt.kind {
        ResourceKind::User => "r.version",
        ResourceKind::Group => GROUP_VERSION_SQL,
    };
    let sql = format!(
        "SELECT {version}, r.resource FROM {} r WHERE r.tenant_id = $1 AND r.id = $2 FOR NO KEY UPDATE OF r",
        table(rt)
    );
    let mut found = None;
    spi::for_each_row(&sql, &[tenant.into(), rid.into()], |row| {
        found = Some((row.get::<i64>(1), row.json(2)?));
        Ok(())
    })?;
    match found {
        Some((Some(v), Some(r))) => {
            crate::request_context::note_version_before(rt.name, &rid, v);
            Ok((rid, v, r))
        }
        _ => Err(not_found(rt, id)),
    }
}

/// Hold a group (KEY SHARE: it cannot be deleted meanwhile, and no other
/// membership writer or attribute writer waits for us) and return (id,
/// stored resource). For membership-only writes (src/store/patch.rs).
pub fn key_share(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
) -> ScimResult<(pgrx::Uuid, Value)> {
    let rid = parse_id(rt, id)?;
    let sql = format!(
        "SELECT resource FROM {} WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE",
        table(rt)
    );
    match spi::one_json(&sql, &[tenant.into(), rid.into()])? {
        Some(resource) => Ok((rid, resource)),
        None => Err(not_found(rt, id)),
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
