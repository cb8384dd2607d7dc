//! The rows of a statement trigger's transition table (`REFERENCING OLD
//! TABLE / NEW TABLE`), read in place from its tuplestore: the columns a
//! resource trigger needs, without an SPI query over the table.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::FromDatum;
use std::ffi::CStr;

/// A row of `scim.users` or `scim.groups`, as the change feed and the
/// policy notifications see it.
#[derive(Clone, Copy, Debug)]
pub struct ResourceRow {
    pub tenant: pgrx::Uuid,
    pub id: pgrx::Uuid,
    pub version: i64,
    /// `users.active` (None when NULL, and for groups, which have none).
    pub active: Option<bool>,
}

/// Which transition table of the statement.
#[derive(Clone, Copy)]
pub enum Table {
    Old,
    New,
}

/// The rows of the trigger's `table` transition table, in the order the
/// statement wrote them (empty when the trigger declares no such table).
pub fn resource_rows(trigger: &PgTrigger<'_>, table: Table) -> Vec<ResourceRow> {
    let data = trigger.trigger_data();
    let store = match table {
        Table::Old => data.tg_oldtable,
        Table::New => data.tg_newtable,
    };
    let mut rows = Vec::new();
    if store.is_null() || data.tg_relation.is_null() {
        return rows;
    }
    // SAFETY: the trigger manager hands us the relation and its transition
    // tuplestore for the duration of the call. The tuples are in the
    // relation's row format. We read through a read pointer of our own
    // (rewindable, as the store was made), so any other reader of the same
    // store — other statement triggers of this event — is undisturbed; the
    // slot is dropped before returning, and a Postgres error unwinds
    // through pgrx's guard (the call's memory context frees the rest).
    unsafe {
        let relation = data.tg_relation;
        let relation_id = (*relation).rd_id;
        let column = |name: &CStr| i32::from(pg_sys::get_attnum(relation_id, name.as_ptr()));
        let (tenant_col, id_col, version_col, active_col) = (
            column(c"tenant_id"),
            column(c"id"),
            column(c"version"),
            column(c"active"),
        );
        let slot =
            pg_sys::MakeSingleTupleTableSlot((*relation).rd_att, &pg_sys::TTSOpsMinimalTuple);
        let reader = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
        pg_sys::tuplestore_select_read_pointer(store, reader);
        pg_sys::tuplestore_rescan(store);
        while pg_sys::tuplestore_gettupleslot(store, true, false, slot) {
            pg_sys::check_for_interrupts!();
            let value = |attnum: i32| {
                let mut isnull = true;
                let datum = if attnum > 0 {
                    pg_sys::slot_getattr(slot, attnum, &mut isnull)
                } else {
                    pg_sys::Datum::from(0)
                };
                (datum, isnull)
            };
            let (t, t_null) = value(tenant_col);
            let (i, i_null) = value(id_col);
            let (v, v_null) = value(version_col);
            let (a, a_null) = value(active_col);
            // tenant_id, id and version are NOT NULL columns.
            let (Some(tenant), Some(id)) = (
                pgrx::Uuid::from_polymorphic_datum(t, t_null, pg_sys::UUIDOID),
                pgrx::Uuid::from_polymorphic_datum(i, i_null, pg_sys::UUIDOID),
            ) else {
                continue;
            };
            rows.push(ResourceRow {
                tenant,
                id,
                version: i64::from_polymorphic_datum(v, v_null, pg_sys::INT8OID).unwrap_or(0),
                active: bool::from_polymorphic_datum(a, a_null, pg_sys::BOOLOID),
            });
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
    }
    rows
}

/// The old row of each new row of an UPDATE, by (tenant, id).
pub fn updated_pairs(trigger: &PgTrigger<'_>) -> Vec<(ResourceRow, ResourceRow)> {
    let old: std::collections::HashMap<(pgrx::Uuid, pgrx::Uuid), ResourceRow> =
        resource_rows(trigger, Table::Old)
            .into_iter()
            .map(|r| ((r.tenant, r.id), r))
            .collect();
    resource_rows(trigger, Table::New)
        .into_iter()
        .filter_map(|n| old.get(&(n.tenant, n.id)).map(|o| (*o, n)))
        .collect()
}
