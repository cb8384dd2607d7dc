//! Policy notifications for user rows (the rules: sql/policy_notify.sql):
//! a deleted user, a user whose `active` flipped, and a user created in a
//! tenant with a default policy (they now get it) change someone's
//! effective policy. Recorded per tenant with `scim._policy_notify`.

use super::transition::{resource_rows, updated_pairs, ResourceRow, Table};
use crate::error::OrRaise;
use crate::spi;
use pgrx::prelude::*;
use scim_core::ScimResult;
use std::collections::BTreeMap;

/// AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT on `scim.users`.
#[pg_trigger(sql = false)]
fn _policy_users_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let op = trigger.op()?;
    let affected: Vec<ResourceRow> = match op {
        PgTriggerOperation::Delete => resource_rows(trigger, Table::Old),
        PgTriggerOperation::Insert => resource_rows(trigger, Table::New)
            .into_iter()
            .filter(|r| r.active != Some(false))
            .collect(),
        PgTriggerOperation::Update => updated_pairs(trigger)
            .into_iter()
            .filter(|(old, new)| old.active.unwrap_or(true) != new.active.unwrap_or(true))
            .map(|(_, new)| new)
            .collect(),
        PgTriggerOperation::Truncate => Vec::new(),
    };
    let inserted = matches!(op, PgTriggerOperation::Insert);
    let mut by_tenant: BTreeMap<pgrx::Uuid, Vec<pgrx::Uuid>> = BTreeMap::new();
    for r in affected {
        by_tenant.entry(r.tenant).or_default().push(r.id);
    }
    for (tenant, users) in by_tenant {
        // A new user changes nothing where no default policy applies (the
        // usual case: checked without a statement).
        if inserted && !has_default_policy(tenant).or_raise() {
            continue;
        }
        spi::run(
            "SELECT scim._policy_notify($1, $2)",
            &[tenant.into(), users.into()],
        )
        .or_raise();
    }
    Ok(None)
}

/// Read once per view (a create per row of one statement asks each time).
fn has_default_policy(tenant: pgrx::Uuid) -> ScimResult<bool> {
    crate::store::tenant::has_default_policy(tenant, |&tenant| {
        let mut found = false;
        spi::direct::for_each_row_with_key(
            c"tenants",
            c"tenants_pkey",
            c"id",
            tenant,
            &[c"default_policy"],
            |row| found = row.text(0).is_some(),
        )?;
        Ok(found)
    })
}
