//! The change feed's writer for `scim.users` and `scim.groups` (the
//! feed's promise and its reader: sql/changes.sql): one pending row per
//! changed resource, one INSERT per statement, nothing when a statement
//! changed nothing the feed reports.

use super::transition::{resource_rows, updated_pairs, ResourceRow, Table};
use crate::error::OrRaise;
use crate::spi;
use pgrx::prelude::*;

const RECORD: &str = "INSERT INTO scim.changes (tenant_id, resource_type, resource_id, operation, version) \
     SELECT c.tenant_id, $1, c.id, c.operation, c.version \
       FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[]) AS c(tenant_id, id, operation, version)";

/// One change (a single-resource write, the usual case): plain values, so
/// the plan has no function scan and no arrays to build and take apart.
const RECORD_ONE: &str =
    "INSERT INTO scim.changes (tenant_id, resource_type, resource_id, operation, version) \
     VALUES ($2, $1, $3, $4, $5)";

/// Deleted rows of a tenant being deleted are not recorded (its resources
/// go with it, and so does its feed).
const RECORD_DELETED: &str = "INSERT INTO scim.changes (tenant_id, resource_type, resource_id, operation, version) \
     SELECT c.tenant_id, $1, c.id, c.operation, c.version \
       FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[]) AS c(tenant_id, id, operation, version) \
      WHERE EXISTS (SELECT 1 FROM scim.tenants t WHERE t.id = c.tenant_id)";

/// AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT on users and groups,
/// with the statement's transition tables. SECURITY DEFINER (set in
/// sql/changes.sql): a role given direct DML (confined to its tenant by
/// row security) is in the feed too, without any privilege on it.
#[pg_trigger(sql = false)]
fn _changes_resources<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let op = trigger.op()?;
    let users = trigger.table_name()? == "users";
    let kind = if users { "User" } else { "Group" };
    let changes: Vec<(ResourceRow, &str)> = match op {
        PgTriggerOperation::Insert => resource_rows(trigger, Table::New)
            .into_iter()
            .map(|r| (r, "create"))
            .collect(),
        PgTriggerOperation::Delete => resource_rows(trigger, Table::Old)
            .into_iter()
            .map(|r| (r, "delete"))
            .collect(),
        PgTriggerOperation::Update => updated_pairs(trigger)
            .into_iter()
            .filter_map(|(old, new)| update_operation(users, &old, &new).map(|op| (new, op)))
            .collect(),
        PgTriggerOperation::Truncate => Vec::new(),
    };
    if changes.is_empty() {
        return Ok(None);
    }
    let deleted = matches!(op, PgTriggerOperation::Delete);
    if let [(row, operation)] = changes.as_slice() {
        if !deleted {
            spi::run(
                RECORD_ONE,
                &[
                    kind.into(),
                    row.tenant.into(),
                    row.id.into(),
                    (*operation).into(),
                    row.version.into(),
                ],
            )
            .or_raise();
            return Ok(None);
        }
    }
    let tenants: Vec<pgrx::Uuid> = changes.iter().map(|(r, _)| r.tenant).collect();
    let ids: Vec<pgrx::Uuid> = changes.iter().map(|(r, _)| r.id).collect();
    let operations: Vec<&str> = changes.iter().map(|(_, op)| *op).collect();
    let versions: Vec<i64> = changes.iter().map(|(r, _)| r.version).collect();
    spi::run(
        if deleted { RECORD_DELETED } else { RECORD },
        &[
            kind.into(),
            tenants.into(),
            ids.into(),
            operations.into(),
            versions.into(),
        ],
    )
    .or_raise();
    Ok(None)
}

/// What an UPDATE of one row is in the feed: a user's `active` flipping
/// is (de)activation, any other write that bumped the version an update;
/// a statement that rewrote the row without changing it is nothing.
fn update_operation(users: bool, old: &ResourceRow, new: &ResourceRow) -> Option<&'static str> {
    if users && old.active != new.active {
        Some(if new.active == Some(false) {
            "deactivate"
        } else {
            "activate"
        })
    } else if old.version != new.version {
        Some("update")
    } else {
        None
    }
}
