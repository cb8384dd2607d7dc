//! `tenants_written`: BEFORE and AFTER every statement that writes
//! `scim.tenants`, so that what this backend keeps about tenants
//! (src/store/tenant.rs: a resolved `scim.tenant`, whether a tenant has a
//! default policy) is read again. Before and after: a read made while the
//! statement runs is not kept past it. ENABLE ALWAYS (sql/triggers.sql),
//! so it fires under `session_replication_role = replica` too; only a
//! superuser disabling it could write tenants unseen.

use pgrx::prelude::*;

#[pg_trigger(sql = false)]
fn _tenants_written<'a>(
    _trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    crate::store::tenant::note_tenants_written();
    Ok(None)
}
