//! Group membership as deltas on the junction table: adding or removing a
//! member never reads or rewrites the rest of the group.

use super::uuid_text;
use crate::spi;
use scim_core::resource::MemberRef;
use scim_core::{ScimError, ScimResult};

/// Parse member ids; a value that is not a uuid cannot name a member.
pub fn member_ids<'a>(refs: impl IntoIterator<Item = &'a str>) -> ScimResult<Vec<pgrx::Uuid>> {
    refs.into_iter()
        .map(|v| {
            uuid::Uuid::parse_str(v.trim())
                .map(|u| pgrx::Uuid::from_bytes(*u.as_bytes()))
                .map_err(|_| unknown_member(v))
        })
        .collect()
}

fn unknown_member(id: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "member '{id}' is not an existing User or Group of this tenant"
    ))
}

/// Add members (users or groups of the same tenant). Existing memberships
/// are left alone (ON CONFLICT DO NOTHING). Any unknown id fails the whole
/// write: the caller's transaction is aborted by the error, nothing is half
/// applied. Returns the number of memberships actually added.
pub fn add(tenant: pgrx::Uuid, group: pgrx::Uuid, refs: &[MemberRef]) -> ScimResult<i64> {
    if refs.is_empty() {
        return Ok(0);
    }
    let ids = member_ids(refs.iter().map(|m| m.value.as_str()))?;
    if ids.contains(&group) {
        return Err(ScimError::invalid_value(format!(
            "group '{}' cannot be a member of itself",
            uuid_text(&group)
        )));
    }
    let (missing, added) = spi::two::<String, i64>(
        include_str!("../../sql/queries/members_add.sql"),
        &[tenant.into(), group.into(), ids.into()],
    )?
    .unwrap_or((None, None));
    if let Some(id) = missing {
        return Err(unknown_member(&id));
    }
    Ok(added.unwrap_or(0))
}

/// A group's membership-write rows are folded into one once there are
/// this many, which bounds the rows every render of its version reads.
const FOLD_AT: i64 = 32;

/// Record that this transaction changed `gid`'s members: its version and
/// lastModified count the row (scim.member_writes, sql/storage.sql).
/// Never waits for another writer of the group: rows are only appended,
/// and the fold is skipped while another transaction folds.
pub fn record_write(tenant: pgrx::Uuid, gid: pgrx::Uuid) -> ScimResult<()> {
    let earlier: Option<i64> = spi::one(
        "WITH w AS (INSERT INTO scim.member_writes (tenant_id, group_id) VALUES ($1, $2))
         SELECT count(*) FROM scim.member_writes WHERE tenant_id = $1 AND group_id = $2",
        &[tenant.into(), gid.into()],
    )?;
    if earlier.unwrap_or(0) < FOLD_AT {
        return Ok(());
    }
    let folding: Option<bool> = spi::one(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('scim.member_writes:' || $1::text || ':' || $2::text, 0))",
        &[tenant.into(), gid.into()],
    )?;
    if folding != Some(true) {
        return Ok(());
    }
    // The rows this statement sees become one with their sum: the
    // version (row's + sum) and lastModified (max) are unchanged. Rows of
    // writers still running are not visible here and stay as they are.
    spi::run(
        "WITH d AS (DELETE FROM scim.member_writes w WHERE w.tenant_id = $1 AND w.group_id = $2
                    RETURNING w.n, w.at)
         INSERT INTO scim.member_writes (tenant_id, group_id, n, at)
         SELECT $1, $2, sum(d.n)::bigint, max(d.at) FROM d HAVING count(*) > 0",
        &[tenant.into(), gid.into()],
    )
}

/// Lock, in id order, every group `member` belongs to. Deleting a user or
/// group takes these locks before its own row lock: membership writers
/// lock group → member, so the delete must not go member → group
/// (its trigger bumps those groups' versions) or the two would deadlock.
pub fn lock_parent_groups(tenant: pgrx::Uuid, member: pgrx::Uuid) -> ScimResult<()> {
    spi::run(
        "SELECT 1 FROM scim.groups g
          WHERE g.tenant_id = $1
            AND g.id IN (SELECT m.group_id FROM scim.members m WHERE m.tenant_id = $1 AND m.member_id = $2)
          ORDER BY g.id FOR NO KEY UPDATE",
        &[tenant.into(), member.into()],
    )
}

/// Remove the given members; ids that are not members are ignored.
/// Returns the number of memberships removed.
pub fn remove(tenant: pgrx::Uuid, group: pgrx::Uuid, ids: &[String]) -> ScimResult<i64> {
    // Non-uuid ids cannot be members: removing them is a no-op.
    let ids: Vec<pgrx::Uuid> = ids
        .iter()
        .filter_map(|v| uuid::Uuid::parse_str(v.trim()).ok())
        .map(|u| pgrx::Uuid::from_bytes(*u.as_bytes()))
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    count_rows(
        "WITH d AS (DELETE FROM scim.members
                     WHERE tenant_id = $1 AND group_id = $2 AND member_id = ANY($3::uuid[])
                    RETURNING 1)
         SELECT count(*) FROM d",
        &[tenant.into(), group.into(), ids.into()],
    )
}

/// Remove every member (`remove members` without a filter).
pub fn clear(tenant: pgrx::Uuid, group: pgrx::Uuid) -> ScimResult<i64> {
    count_rows(
        "WITH d AS (DELETE FROM scim.members WHERE tenant_id = $1 AND group_id = $2 RETURNING 1)
         SELECT count(*) FROM d",
        &[tenant.into(), group.into()],
    )
}

fn count_rows(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> ScimResult<i64> {
    Ok(spi::one::<i64>(sql, args)?.unwrap_or(0))
}

/// Remove every member not in `keep` (PUT with a full member list).
pub fn retain_only(tenant: pgrx::Uuid, group: pgrx::Uuid, keep: &[MemberRef]) -> ScimResult<()> {
    let keep = member_ids(keep.iter().map(|m| m.value.as_str()))?;
    spi::run(
        "DELETE FROM scim.members WHERE tenant_id = $1 AND group_id = $2 AND member_id <> ALL($3::uuid[])",
        &[tenant.into(), group.into(), keep.into()],
    )
}
