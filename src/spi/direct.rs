//! Reads of a few rows by the leading uuid column of an index, straight
//! through the index and heap access methods: no executor, no plan, no
//! portal. For reads made on every operation (the tenant's
//! extension-schema versions) or every write (whether the tenant has a
//! default policy), where an SPI round trip cost more than the lookup
//! itself.
//!
//! Rows are read with the snapshot an SPI statement would get (MVCC as for
//! any statement, our own earlier writes included), and
//! the relation gets the AccessShareLock a SELECT would take. Row security
//! and privileges are not applied: callers read only the rows of a tenant
//! they have already resolved and authorised, and only what decides how
//! that tenant's requests are understood.

use pgrx::pg_sys;
use pgrx::FromDatum;
use scim_core::{ScimError, ScimResult};
use std::ffi::CStr;

/// One heap row during a scan; its columns by the numbers resolved for
/// the scan.
pub struct Row {
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    columns: Vec<i32>,
}

impl Row {
    /// Column `i` (0-based, in the order the scan named them) as text.
    pub fn text(&self, i: usize) -> Option<String> {
        let (datum, isnull) = self.datum(i);
        // SAFETY: the column is text (callers name text columns), and the
        // datum lives while the row is current.
        unsafe { String::from_polymorphic_datum(datum, isnull, pg_sys::TEXTOID) }
    }

    /// Column `i` as a boolean.
    pub fn bool(&self, i: usize) -> Option<bool> {
        let (datum, isnull) = self.datum(i);
        // SAFETY: as for `text`, for a boolean column.
        unsafe { bool::from_polymorphic_datum(datum, isnull, pg_sys::BOOLOID) }
    }

    /// The row version's inserting transaction: changes with every update
    /// of the row, and a rolled-back one is never reused.
    pub fn xmin(&self) -> u32 {
        // SAFETY: `tuple` is the scan's current tuple, valid until the
        // next fetch.
        unsafe { pg_sys::HeapTupleHeaderGetXmin((*self.tuple).t_data).into_inner() }
    }

    fn datum(&self, i: usize) -> (pg_sys::Datum, bool) {
        let Some(&attnum) = self.columns.get(i) else {
            return (pg_sys::Datum::from(0), true);
        };
        let mut isnull = true;
        // SAFETY: `tuple` and `desc` belong to the open relation, and the
        // attribute number was resolved from its catalog entry.
        let datum = unsafe { pg_sys::heap_getattr(self.tuple, attnum, self.desc, &mut isnull) };
        (datum, isnull)
    }
}

/// Visit the rows of `scim.<table>` whose first index column (`tenant_id`
/// of `scim.<index>`) equals `tenant`, with the named columns.
pub fn for_each_tenant_row(
    table: &CStr,
    index: &CStr,
    tenant: pgrx::Uuid,
    columns: &[&CStr],
    each: impl FnMut(&Row),
) -> ScimResult<()> {
    for_each_row_with_key(table, index, c"tenant_id", tenant, columns, each)
}

/// Visit the rows of `scim.<table>` whose uuid column `key_column` (the
/// first column of `scim.<index>`) equals `key`, with the named columns.
pub fn for_each_row_with_key(
    table: &CStr,
    index: &CStr,
    key_column: &CStr,
    key: pgrx::Uuid,
    columns: &[&CStr],
    mut each: impl FnMut(&Row),
) -> ScimResult<()> {
    // SAFETY: catalog lookups and the genindex scan API, used as
    // documented (open → begin → getnext until NULL → end → close) on the
    // backend's own thread; a Postgres error unwinds through pgrx's guard
    // and the transaction's resource owner releases the scan and the lock.
    unsafe {
        let namespace = pg_sys::get_namespace_oid(c"scim".as_ptr(), false);
        let relation_id = pg_sys::get_relname_relid(table.as_ptr(), namespace);
        let index_id = pg_sys::get_relname_relid(index.as_ptr(), namespace);
        if relation_id == pg_sys::InvalidOid || index_id == pg_sys::InvalidOid {
            return Err(ScimError::new(
                500,
                None,
                format!(
                    "internal error: scim.{} or its index is missing",
                    table.to_string_lossy()
                ),
            ));
        }
        let mut attnums = Vec::with_capacity(columns.len());
        for c in columns {
            let n = pg_sys::get_attnum(relation_id, c.as_ptr());
            if n <= 0 {
                return Err(ScimError::new(
                    500,
                    None,
                    format!(
                        "internal error: scim.{} has no column {}",
                        table.to_string_lossy(),
                        c.to_string_lossy()
                    ),
                ));
            }
            attnums.push(i32::from(n));
        }
        // systable_beginscan takes heap attribute numbers in scan keys.
        let key_attnum = pg_sys::get_attnum(relation_id, key_column.as_ptr());
        let relation = pg_sys::table_open(relation_id, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let mut scan_key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut scan_key,
            key_attnum,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_UUID_EQ),
            pgrx::IntoDatum::into_datum(key).unwrap_or(pg_sys::Datum::from(0)),
        );
        // The snapshot an SPI statement of ours would run with: our own
        // earlier writes made visible (as SPI does before each statement),
        // then a fresh snapshot under READ COMMITTED, the transaction's
        // under REPEATABLE READ and SERIALIZABLE. (A parallel worker may
        // not advance the command counter, and cannot have written.)
        if !pg_sys::IsInParallelMode() {
            pg_sys::CommandCounterIncrement();
        }
        let snapshot = pg_sys::GetTransactionSnapshot();
        let scan = pg_sys::systable_beginscan(relation, index_id, true, snapshot, 1, &mut scan_key);
        let mut row = Row {
            tuple: std::ptr::null_mut(),
            desc: (*relation).rd_att,
            columns: attnums,
        };
        loop {
            pg_sys::check_for_interrupts!();
            row.tuple = pg_sys::systable_getnext(scan);
            if row.tuple.is_null() {
                break;
            }
            each(&row);
        }
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(relation, pg_sys::NoLock as pg_sys::LOCKMODE);
    }
    Ok(())
}
